"""The low- and high-pass filter on the mix: a 4th-order Butterworth (24 dB/octave) from scipy."""

from __future__ import annotations

from typing import Literal

import numpy as np
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
    if not 0 < cutoff_hz <= max_cutoff_hz(sample_rate):
        raise ValueError(f"cutoff {cutoff_hz:g} Hz is outside 0–{max_cutoff_hz(sample_rate):g} Hz")
    sos = butter(ORDER, cutoff_hz, btype="lowpass" if kind == "lowpass" else "highpass", fs=sample_rate,
                 output="sos")
    return np.ascontiguousarray(sosfilt(sos, audio, axis=0), dtype=np.float32)
