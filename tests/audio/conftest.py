"""Audio fixtures: four stems synthesised from a real Bach chorale score, uploaded through the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from remix.audio.decode import process_cache
from tests.conftest import World

SAMPLE_RATE = 44_100
# BWV 66.6 is 36 quarter notes long; at 135 bpm that is 16 s, so each stereo 16-bit stem is ~2.8 MB (the
# test settings accept stems up to 4 MiB).
CHORALE = "bach/bwv66.6"
CHORALE_BPM = 135.0
STEM_SECONDS = 16.0
VOICES = {"Soprano": ("soprano", -0.3), "Alto": ("alto", -0.1), "Tenor": ("tenor", 0.1), "Bass": ("bass", 0.3)}
STEM_NAMES = ("soprano", "alto", "tenor", "bass")


def synthesise_voice(notes: list[tuple[float, float, float]], seconds_per_quarter: float, pan: float) -> np.ndarray:
    """Additive synthesis of one voice: five harmonics per note, soft attack and release, placed in stereo."""
    frames = round(STEM_SECONDS * SAMPLE_RATE)
    mono = np.zeros(frames, dtype=np.float64)
    for offset, quarters, frequency in notes:
        start = round(offset * seconds_per_quarter * SAMPLE_RATE)
        length = min(round(quarters * seconds_per_quarter * SAMPLE_RATE), frames - start)
        if length <= 0:
            continue
        t = np.arange(length) / SAMPLE_RATE
        tone = sum(np.sin(2 * np.pi * frequency * h * t) / h**1.5 for h in range(1, 6))
        envelope = np.minimum(1.0, t / 0.02) * np.minimum(1.0, (length / SAMPLE_RATE - t) / 0.05)
        mono[start:start + length] += 0.15 * tone * envelope
    left, right = np.cos((pan + 1) * np.pi / 4), np.sin((pan + 1) * np.pi / 4)
    return np.stack([mono * left, mono * right], axis=1).astype(np.float32)


def write_chorale_stems(out: Path, seconds: float | None = None) -> dict[str, Path]:
    """Synthesise the four voices of the real chorale score to WAV stems in ``out`` (optionally cut short)."""
    from music21 import corpus

    score = corpus.parse(CHORALE)
    paths = {}
    for part in score.parts:
        name, pan = VOICES[str(part.partName)]
        notes = [(float(n.offset), float(n.quarterLength), float(n.pitch.frequency))
                 for n in part.flatten().notes if hasattr(n, "pitch")]
        audio = synthesise_voice(notes, 60.0 / CHORALE_BPM, pan)
        if seconds is not None:
            audio = audio[: round(seconds * SAMPLE_RATE)]
        paths[name] = out / f"{name}.wav"
        soundfile.write(paths[name], audio, SAMPLE_RATE, subtype="PCM_16")
    return paths


@pytest.fixture(scope="session")
def chorale_stems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name → WAV path of the four voices of a real chorale (made once per test session)."""
    return write_chorale_stems(tmp_path_factory.mktemp("chorale"))


@dataclass
class StemmedTrack:
    track_id: int
    album_id: int
    stem_ids: dict[str, int]


def upload_stems(world: World, who: str, track_id: int, stems: dict[str, Path]) -> dict[str, int]:
    ids = {}
    for name in STEM_NAMES:
        with stems[name].open("rb") as f:
            r = world.client.post(f"/api/tracks/{track_id}/stems", headers=world.headers(who),
                                  data={"stem_name": name}, files={"file": (f"{name}.wav", f, "audio/wav")})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    return ids


@pytest.fixture
def stemmed(world: World, chorale_stems: dict[str, Path]) -> StemmedTrack:
    """Alpha's track with the four chorale stems uploaded by the artist (no grants yet)."""
    track_id = world.track_ids["alpha"]
    return StemmedTrack(track_id=track_id, album_id=world.album_ids["alpha"],
                        stem_ids=upload_stems(world, "alpha", track_id, chorale_stems))


def grant(world: World, scope: str, *, album_id: int | None = None, asset_id: int | None = None) -> int:
    body = {"scope": scope, "album_id": album_id} if album_id else {"scope": scope, "asset_id": asset_id}
    r = world.client.post("/api/consent/grants", json=body, headers=world.headers("alpha"))
    assert r.status_code == 201, r.text
    grant_id: int = r.json()["id"]
    return grant_id


@pytest.fixture(autouse=True)
def _fresh_stem_cache() -> Iterator[None]:
    """Each test decodes from its own files (the process cache would otherwise carry stems across tests)."""
    process_cache().clear()
    yield
    process_cache().clear()
