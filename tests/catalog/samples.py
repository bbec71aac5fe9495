"""Real media files for upload tests: scikit-image's sample photographs and short audio stems.

Images are the photographs scikit-image ships (saved with Pillow); audio is a few seconds of a
plucked-string phrase written with soundfile in each container. Everything is built in memory and
cached, so a test pays for it once per session.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import skimage.data
import soundfile
from PIL import Image

SAMPLE_RATE = 44_100
STEM_SECONDS = 3.0


@cache
def photo(name: str = "coffee", fmt: str = "PNG", **options: int) -> bytes:
    """A scikit-image sample photograph (``coffee``, ``chelsea``, ``hubble_deep_field``, ...) as PNG, JPEG or GIF.

    ``options`` go to Pillow's encoder, e.g. ``compress_level=0`` for an uncompressed (large) PNG.
    """
    out = io.BytesIO()
    Image.fromarray(getattr(skimage.data, name)()).save(out, fmt, **options)
    return out.getvalue()


def photo_size(name: str) -> tuple[int, int]:
    """(width, height) of a sample photograph."""
    height, width = getattr(skimage.data, name)().shape[:2]
    return width, height


@cache
def _phrase(seconds: float, channels: int) -> np.ndarray:
    """A plucked-string phrase (Karplus-Strong) repeated to ``seconds``: music-like, not a pure tone."""
    if seconds > STEM_SECONDS:
        phrase = _phrase(STEM_SECONDS, channels)
        return np.tile(phrase, (int(np.ceil(seconds / STEM_SECONDS)), 1))[: int(seconds * SAMPLE_RATE)]
    rng = np.random.default_rng(0)
    total = int(seconds * SAMPLE_RATE)
    mono = np.zeros(total)
    notes = [220.0, 277.18, 329.63, 440.0]
    step = total // len(notes)
    for i, freq in enumerate(notes):
        period = int(SAMPLE_RATE / freq)
        buf = rng.uniform(-0.5, 0.5, period)
        note = np.empty(step)
        for n in range(step):
            note[n] = buf[n % period]
            buf[n % period] = 0.996 * 0.5 * (buf[n % period] + buf[(n + 1) % period])
        mono[i * step:(i + 1) * step] += note
    return np.stack([mono * (0.6 + 0.4 * c / max(channels - 1, 1)) for c in range(channels)], axis=1)


@cache
def stem(fmt: str = "WAV", seconds: float = STEM_SECONDS, channels: int = 2) -> bytes:
    """The phrase as WAV, FLAC (16-bit PCM), MP3 or OGG (Vorbis)."""
    out = io.BytesIO()
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "MP3": "MPEG_LAYER_III", "OGG": "VORBIS"}[fmt]
    soundfile.write(out, _phrase(seconds, channels), SAMPLE_RATE, format=fmt, subtype=subtype)
    return out.getvalue()


def truncated(data: bytes, keep: float | int) -> bytes:
    """The first ``keep`` bytes (an int) or fraction (a float) of ``data``: a transfer cut short."""
    return data[: int(len(data) * keep) if isinstance(keep, float) else keep]
