"""Live audio: the server mixes short chunks just ahead of each fan's playhead; stems never leave it.

Chunk length and lead, and why: a fader, tempo or key change is heard when the first chunk rendered after
it starts playing. The server sends chunk ``k`` once the playhead is within ``LEAD_SECONDS`` of its start,
so at any moment at most one chunk plus the lead is already on its way to the browser. The worst-case
delay from a change to hearing it is ``CHUNK_SECONDS + LEAD_SECONDS`` = 150 + 80 = 230 ms (< 250 ms), 155 ms
on average. Shorter chunks would cut that further but cost more per second of audio (each chunk runs the
mixer, and the phase vocoder with ~93 ms of context on each side when tempo or key is changed); 80 ms of
lead absorbs scheduling jitter on a loaded server and the network.

Chunks are 16-bit PCM WAV: no encoder delay or padding, so consecutive chunks join without gaps in the
browser (Web Audio's ``decodeAudioData``), and encoding costs next to nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from remix.audio import engine
from remix.audio.decode import Audio
from remix.audio.encode import encode_wav
from remix.audio.spec import ExcerptWindow, RemixSpec
from remix.catalog.models import Asset

CHUNK_SECONDS = 0.15
LEAD_SECONDS = 0.08
# Fields of a RemixSpec a live mix message may change; the window is the playhead's business.
LIVE_FIELDS = ("stems", "tempo", "key_shift", "filter", "seed")
# Chunks shorter than this at the end of the track are not worth a render: playback wraps to the start.
MIN_CHUNK_SECONDS = 0.02


@dataclass(frozen=True)
class AudioChunk:
    wav: bytes
    start_seconds: float  # track time where the chunk starts
    source_seconds: float  # how much track time it covers
    energy: float  # RMS of the chunk, 0 (silence) … 1 (full-scale square wave)


def spec_for_window(mix: Mapping[str, Any], start_seconds: float, length_seconds: float) -> RemixSpec:
    """The full RemixSpec of the live ``mix`` over one window of the track (raises pydantic's ValidationError)."""
    data = {k: v for k, v in mix.items() if k in LIVE_FIELDS}
    return RemixSpec.model_validate({**data, "window": {"start_seconds": start_seconds,
                                                         "length_seconds": length_seconds}})


def merge_mix(current: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a partial mix: stems merge per stem and per setting; other fields replace."""
    merged = dict(current)
    for key, value in change.items():
        if key == "stems" and isinstance(value, dict) and isinstance(merged.get("stems"), dict):
            stems = {name: dict(settings) for name, settings in merged["stems"].items()}
            for name, settings in value.items():
                if isinstance(settings, dict) and isinstance(stems.get(name), dict):
                    stems[name] = {**stems[name], **settings}
                else:
                    stems[name] = settings
            merged["stems"] = stems
        else:
            merged[key] = value
    return merged


def render_chunk(stems: Mapping[str, Audio], spec: RemixSpec, sample_rate: int) -> AudioChunk:
    """Mix the spec's window (one chunk) and encode it as WAV."""
    audio = engine.render(stems, spec, sample_rate)
    energy = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return AudioChunk(wav=encode_wav(audio, sample_rate, seed=spec.seed), start_seconds=spec.window.start_seconds,
                      source_seconds=spec.window.length_seconds, energy=min(1.0, energy))


def energy_to_level(energy: float) -> float:
    """RMS → 0…1 on a dB scale (−48 dBFS and below is 0, −12 dBFS and above is 1): how loud it *sounds*."""
    if energy <= 0:
        return 0.0
    db = 20 * math.log10(energy)
    return min(1.0, max(0.0, (db + 48.0) / 36.0))


def chunk_window(position: float, tempo: float, duration: float) -> ExcerptWindow | None:
    """The track time the next chunk covers from ``position``; None if the track has ended there."""
    remaining = duration - position
    if remaining < MIN_CHUNK_SECONDS:
        return None
    return ExcerptWindow(start_seconds=position, length_seconds=min(CHUNK_SECONDS * tempo, remaining))


def audible_asset_ids(stems: Sequence[Asset], spec: RemixSpec) -> list[int]:
    by_name = {s.stem_name: s.id for s in stems if s.stem_name}
    return [by_name[name] for name in spec.audible_stems(by_name)]
