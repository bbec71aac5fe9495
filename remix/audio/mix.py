"""Summing stems and shaping the level: gain and pan, the float mix bus, the peak limiter and fades.

Everything is float32 from decode to encode; nothing is rounded to 16 bits until the encoder, so loud
stems can sum past full scale mid-mix and the limiter alone decides what reaches the output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from remix.audio.decode import Audio

# −1 dBFS: room for the inter-sample peaks that MP3/Opus decoders would otherwise clip.
PEAK_CEILING = 10 ** (-1.0 / 20)
# Frames per block in the mix loop: 16384 stereo float32 frames = 128 KiB, so the running sum and the
# scaled stem block stay in L2 cache while each stem is streamed through once.
MIX_BLOCK_FRAMES = 16_384
LIMITER_WINDOW_SECONDS = 0.010
LOOP_DECLICK_SECONDS = 0.002


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan, scaled so the centre is unity: the default spec reproduces the original mix.

    ``left² + right² == 2`` at every position, so a stem swept across the field keeps its loudness; hard
    left is +3 dB on the left and silence on the right.
    """
    angle = (pan + 1.0) * math.pi / 4.0
    return math.sqrt(2.0) * math.cos(angle), math.sqrt(2.0) * math.sin(angle)


@dataclass(frozen=True)
class MixInput:
    """One stem's samples (already windowed to the frames needed) and its left/right gains."""

    audio: Audio
    left_gain: float
    right_gain: float


def mix(inputs: Sequence[MixInput], frames: int) -> Audio:
    """Sum ``inputs`` into a new ``(frames, 2)`` float32 buffer; stems shorter than ``frames`` end in silence.

    Works on the interleaved samples as flat vectors, block by block: each stem block is scaled by a
    pre-tiled ``[left, right, left, right, ...]`` gain vector and added to the running sum, so every ufunc
    call is a long contiguous SIMD loop (broadcasting a 2-element gain row would make numpy loop per frame).
    """
    out = np.zeros((frames, 2), dtype=np.float32)
    if not inputs:
        return out
    block = min(MIX_BLOCK_FRAMES, frames)
    gains = [np.tile(np.array([i.left_gain, i.right_gain], dtype=np.float32), block) for i in inputs]
    sources = [np.ascontiguousarray(i.audio[:frames]).reshape(-1) for i in inputs]
    flat_out = out.reshape(-1)
    scratch = np.empty(2 * block, dtype=np.float32)
    for start in range(0, 2 * frames, 2 * block):
        stop = min(start + 2 * block, 2 * frames)
        for index, (source, gain) in enumerate(zip(sources, gains, strict=True)):
            end = min(stop, source.shape[0])
            n = end - start
            if n <= 0:
                continue
            if index == 0:  # the buffer is still zero here: write the first stem straight in
                np.multiply(source[start:end], gain[:n], out=flat_out[start:end])
                continue
            tmp = scratch[:n]
            np.multiply(source[start:end], gain[:n], out=tmp)
            np.add(flat_out[start:end], tmp, out=flat_out[start:end])
    return out


def peak(audio: Audio) -> float:
    return float(np.max(np.abs(audio))) if audio.size else 0.0


def limit(audio: Audio, sample_rate: int, ceiling: float = PEAK_CEILING) -> Audio:
    """Look-ahead peak limiter: afterwards no sample exceeds ``ceiling``; audio already below it is untouched.

    The gain each frame needs (``ceiling / |peak|``, linked across channels) is held for one window on both
    sides with a running minimum, then smoothed with a running mean one window long. Every value averaged
    at a frame is a minimum over a span containing that frame, so the smoothed gain never exceeds the gain
    the frame needs — the ceiling holds exactly, with gain changes spread over ~10 ms instead of clipping.
    """
    if peak(audio) <= ceiling:
        return audio
    frame_peak = np.max(np.abs(audio), axis=1)
    needed = np.minimum(1.0, ceiling / np.maximum(frame_peak, 1e-12)).astype(np.float32)
    width = max(1, round(LIMITER_WINDOW_SECONDS * sample_rate))
    held = minimum_filter1d(needed, size=2 * width + 1, mode="nearest")
    smooth = uniform_filter1d(held, size=width | 1, mode="nearest")
    out = audio * smooth[:, None]
    # Rounding in the running mean can leave a sample one ulp over; the ceiling is a promise.
    np.clip(out, -ceiling, ceiling, out=out)
    return out.astype(np.float32, copy=False)


def fade(audio: Audio, sample_rate: int, fade_in_seconds: float, fade_out_seconds: float) -> Audio:
    """Raised-cosine fades in place at both ends (equal-power shape, no click at the joins)."""
    frames = audio.shape[0]
    for seconds, at_start in ((fade_in_seconds, True), (fade_out_seconds, False)):
        n = min(frames, round(seconds * sample_rate))
        if n <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float64))).astype(np.float32)
        if at_start:
            audio[:n] *= ramp[:, None]
        else:
            audio[frames - n:] *= ramp[::-1, None]
    return audio


def loop(audio: Audio, sample_rate: int, times: int) -> Audio:
    """Repeat ``audio`` ``times`` times, with 2 ms ramps at the seams so the joins do not click."""
    if times <= 1:
        return audio
    unit = fade(audio.copy(), sample_rate, LOOP_DECLICK_SECONDS, LOOP_DECLICK_SECONDS)
    return np.tile(unit, (times, 1))
