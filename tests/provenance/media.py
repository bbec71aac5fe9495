"""Real audio and images for provenance tests: excerpts of the demo album's stems and skimage photographs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

from remix.demo.media import DemoAlbumMedia

RATE = 44_100


def stem_excerpts(media: DemoAlbumMedia, track_index: int, seconds: float = 20.0) -> list[tuple[str, bytes]]:
    """The first ``seconds`` of each stem of one demo track, as WAV files (small enough to upload in tests)."""
    out: list[tuple[str, bytes]] = []
    for stem in media.tracks[track_index].stems:
        data, rate = soundfile.read(str(stem.path), dtype="float32", always_2d=True)
        buffer = io.BytesIO()
        soundfile.write(buffer, data[: int(seconds * rate)], rate, format="WAV", subtype="PCM_16")
        out.append((stem.name, buffer.getvalue()))
    return out


def mix(paths: list[Path], start: float, seconds: float) -> npt.NDArray[np.float32]:
    """The stems summed, as ``(frames, 2)`` float32 at 44.1 kHz, from ``start`` for ``seconds``."""
    total: npt.NDArray[np.float32] | None = None
    for path in paths:
        data, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
        part = data[int(start * RATE): int((start + seconds) * RATE)]
        total = part if total is None else total + part
    assert total is not None
    return (total / max(1.0, float(np.max(np.abs(total))) / 0.9)).astype(np.float32)
