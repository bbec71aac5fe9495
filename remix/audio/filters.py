"""The low- and high-pass filter on the mix: a 4th-order Butterworth (24 dB/octave) from scipy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfilt

from remix.audio.decode import Audio

ORDER = 4
# Keep the cutoff clear of Nyquist, where the bilinear transform warps a Butterworth out of shape.
MAX_CUTOFF_FRACTION_OF_RATE = 0.45

FilterKind = Literal["none", "lowpass", "highpass"]


def max_cutoff_hz(sample_rate: int) -> float:
    return MAX_CUTOFF_FRACTION_OF_RATE * sample_rate


def apply_filter(audio: Audio, sample_rate: int, kind: FilterKind, cutoff_hz: float | None) -> Audio:
    """Filter ``(frames, channels)`` audio; ``kind='none'`` returns it unchanged."""
    if kind == "none" or cutoff_hz is None:
        return audio
    return next(filter_blocks([audio], sample_rate, kind, cutoff_hz))


def filter_blocks(blocks: Iterable[Audio], sample_rate: int, kind: FilterKind, cutoff_hz: float | None
                  ) -> Iterator[Audio]:
    """:func:`apply_filter` on consecutive blocks of one signal: the filter state carries across the joins,
    so the blocks come out exactly as the whole signal filtered at once would."""
    if kind == "none" or cutoff_hz is None:
        yield from blocks
        return
    if not 0 < cutoff_hz <= max_cutoff_hz(sample_rate):
        raise ValueError(f"cutoff {cutoff_hz:g} Hz is outside 0–{max_cutoff_hz(sample_rate):g} Hz")
    sos = butter(ORDER, cutoff_hz, btype="lowpass" if kind == "lowpass" else "highpass", fs=sample_rate,
                 output="sos")
    state: npt.NDArray[np.float64] | None = None
    for block in blocks:
        if state is None:  # at rest before the first sample, as sosfilt without a state starts
            state = np.zeros((sos.shape[0], 2, block.shape[1]))
        filtered, state = sosfilt(sos, block, axis=0, zi=state)
        yield np.ascontiguousarray(filtered, dtype=np.float32)
