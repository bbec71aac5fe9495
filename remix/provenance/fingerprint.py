"""Chromaprint fingerprints of catalog tracks and the sliding comparison that finds excerpts of them.

``fpcalc -raw`` (Debian ``libchromaprint-tools``) gives one 32-bit sub-fingerprint per ~0.124 s of
audio. An excerpt matches a track at the offset where the two raw sequences differ in the fewest bits:
unrelated audio differs in about half of the bits, a re-encoded copy of the same audio in well under a
third (the threshold is ``ProvenanceSettings.fingerprint_max_bit_error``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

# Chromaprint analyses 11025 Hz audio in 4096-sample frames with a 2/3 overlap.
ITEM_SECONDS = 4096 / 3 / 11025
FPCALC_TIMEOUT_SECONDS = 120

Fingerprint = npt.NDArray[np.uint32]


class FingerprintError(RuntimeError):
    """fpcalc is missing or could not read the audio."""


@dataclass(frozen=True)
class CatalogMatch:
    track_id: int
    offset_seconds: float
    bit_error_rate: float
    overlap_seconds: float

    @property
    def similarity(self) -> float:
        """1 for identical fingerprints, about 0 for unrelated audio (which differs in half the bits)."""
        return round(max(0.0, 1.0 - 2.0 * self.bit_error_rate), 4)


def fingerprint_file(path: Path, *, max_seconds: int = 3600) -> Fingerprint:
    """The raw Chromaprint fingerprint of an audio file of any format ffmpeg reads."""
    fpcalc = shutil.which("fpcalc")
    if fpcalc is None:
        raise FingerprintError("fpcalc is not installed (Debian package libchromaprint-tools)")
    result = subprocess.run([fpcalc, "-raw", "-json", "-length", str(max_seconds), str(path)],
                            capture_output=True, text=True, timeout=FPCALC_TIMEOUT_SECONDS, check=False)
    if result.returncode != 0 and not result.stdout.strip():
        raise FingerprintError(f"fpcalc could not read the audio: {result.stderr.strip()[:200]}")
    try:
        items = json.loads(result.stdout)["fingerprint"]
    except (ValueError, KeyError) as exc:
        raise FingerprintError(f"fpcalc gave no fingerprint: {result.stderr.strip()[:200]}") from exc
    return np.asarray(items, dtype=np.int64).astype(np.uint32)


def mix_stems(stem_paths: list[Path], target: Path) -> Path:
    """Sum a track's stems into one WAV (the full mix as a listener hears the untouched track)."""
    mix: npt.NDArray[np.float32] | None = None
    rate = 0
    for path in stem_paths:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        data = data.mean(axis=1)
        if mix is None:
            mix, rate = data, file_rate
            continue
        if file_rate != rate:
            import soxr

            data = soxr.resample(data, file_rate, rate).astype(np.float32)
        if len(data) > len(mix):
            mix = np.pad(mix, (0, len(data) - len(mix)))
        mix[: len(data)] += data
    if mix is None:
        raise FingerprintError("the track has no stems")
    peak = float(np.max(np.abs(mix))) or 1.0
    soundfile.write(str(target), mix / max(peak, 1.0), rate, subtype="PCM_16")
    return target


def best_offset(query: Fingerprint, reference: Fingerprint, min_overlap: int) -> tuple[int, float, int] | None:
    """(offset in items, bit error rate, overlap in items) of the best alignment of ``query`` in ``reference``.

    Offsets may be negative (the excerpt starts before the track, e.g. silence was added in front).
    """
    m, n = len(query), len(reference)
    if m == 0 or n == 0:
        return None
    best: tuple[int, float, int] | None = None
    for offset in range(-(m - min_overlap), n - min_overlap + 1):
        q0, r0 = max(0, -offset), max(0, offset)
        length = min(m - q0, n - r0)
        if length < min_overlap:
            continue
        diff = np.bitwise_xor(query[q0:q0 + length], reference[r0:r0 + length])
        ber = float(np.bitwise_count(diff).sum()) / (32.0 * length)
        if best is None or ber < best[1]:
            best = (offset, ber, length)
    return best


def match_catalog(query: Fingerprint, catalog: dict[int, Fingerprint], *, max_bit_error: float,
                  min_overlap_seconds: float) -> list[CatalogMatch]:
    """Catalog tracks the query matches, best first."""
    min_overlap = max(8, int(min_overlap_seconds / ITEM_SECONDS))
    if len(query) < min_overlap:
        min_overlap = len(query)
    matches: list[CatalogMatch] = []
    for track_id, reference in catalog.items():
        found = best_offset(query, reference, min(min_overlap, len(reference)))
        if found is None:
            continue
        offset, ber, overlap = found
        if ber <= max_bit_error:
            matches.append(CatalogMatch(track_id, round(offset * ITEM_SECONDS, 2), round(ber, 4),
                                        round(overlap * ITEM_SECONDS, 2)))
    return sorted(matches, key=lambda m: m.bit_error_rate)
