"""Summing stems and shaping the level: gain and pan, the float mix bus, the peak limiter and fades.

Everything is float32 from decode to encode; nothing is rounded to 16 bits until the encoder, so loud
stems can sum past full scale mid-mix and the limiter alone decides what reaches the output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import minimum_filter1d

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
    A frame's gain depends only on the frames within :func:`limiter_reach` of it, which is what lets
    :func:`limit_blocks` work on a stream.
    """
    if peak(audio) <= ceiling:
        return audio
    return _limited(audio, 0, audio.shape[0], sample_rate, ceiling)


def limiter_reach(sample_rate: int) -> int:
    """How many frames before and after a frame its limiter gain depends on."""
    width = _limiter_width(sample_rate)
    return width + (width | 1) // 2


def _limiter_width(sample_rate: int) -> int:
    return max(1, round(LIMITER_WINDOW_SECONDS * sample_rate))


def _limited(audio: Audio, first: int, stop: int, sample_rate: int, ceiling: float) -> Audio:
    """Frames ``[first, stop)`` of ``audio`` limited: a new array, or a view of ``audio`` where nothing exceeds
    the ceiling (the callers never write to either).

    ``audio`` must hold :func:`limiter_reach` frames on each side of the range, or end where the signal does
    (the running filters extend the edge frames outwards, as at the ends of the whole signal).
    """
    if peak(audio) <= ceiling:
        return audio[first:stop]
    frame_peak = np.max(np.abs(audio), axis=1)
    needed = np.minimum(1.0, ceiling / np.maximum(frame_peak, 1e-12)).astype(np.float32)
    width = _limiter_width(sample_rate)
    held = minimum_filter1d(needed, size=2 * width + 1, mode="nearest")
    smooth = _running_mean(held, width | 1)
    out = audio[first:stop] * smooth[first:stop, None]
    # Rounding in the running mean can leave a sample one ulp over; the ceiling is a promise.
    np.clip(out, -ceiling, ceiling, out=out)
    return out.astype(np.float32, copy=False)


def _running_mean(gain: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """Centred running mean over ``size`` (odd) frames, edges extended.

    It averages the gain *reduction* (``1 - gain``) through a float64 cumulative sum: where no frame in the
    span is reduced, the two sums are equal, so the gain is exactly 1 and the audio there keeps its bits.
    """
    half = size // 2
    reduction = np.pad(1.0 - gain.astype(np.float64), half, mode="edge")
    sums = np.empty(reduction.shape[0] + 1)
    sums[0] = 0.0
    np.cumsum(reduction, out=sums[1:])
    mean = sums[size:] - sums[:-size]
    mean /= size
    return (1.0 - mean).astype(np.float32)


def limit_blocks(blocks: Iterable[Audio], sample_rate: int, ceiling: float = PEAK_CEILING) -> Iterator[Audio]:
    """:func:`limit` on consecutive blocks of one signal, each frame yielded once the look-ahead has seen
    :func:`limiter_reach` frames past it. Blocks that need no limiting keep their samples. Neither the input
    blocks nor the yielded ones are written to afterwards (fades copy a block before scaling it).
    The output depends on the block boundaries only through float rounding in the running mean, and the
    engine's boundaries depend on the input length alone, so a spec still renders the same bits every time.
    """
    reach = limiter_reach(sample_rate)
    held: Audio | None = None  # frames [held_from, emitted + pending) of the signal
    held_from = emitted = 0
    for block in blocks:
        if not block.shape[0]:
            continue
        held = block if held is None else np.concatenate([held, block])
        ready = held_from + held.shape[0] - reach  # every frame before this one has seen its look-ahead
        if ready > emitted:
            yield _limited(held, emitted - held_from, ready - held_from, sample_rate, ceiling)
            emitted = ready
            keep_from = max(held_from, emitted - reach)
            held = held[keep_from - held_from:]
            held_from = keep_from
    if held is not None and held_from + held.shape[0] > emitted:
        yield _limited(held, emitted - held_from, held.shape[0], sample_rate, ceiling)


def fade(audio: Audio, sample_rate: int, fade_in_seconds: float, fade_out_seconds: float) -> Audio:
    """Raised-cosine fades in place at both ends (equal-power shape, no click at the joins)."""
    frames = audio.shape[0]
    for seconds, at_start in ((fade_in_seconds, True), (fade_out_seconds, False)):
        n = min(frames, round(seconds * sample_rate))
        if n <= 0:
            continue
        ramp = _ramp(n)
        if at_start:
            audio[:n] *= ramp[:, None]
        else:
            audio[frames - n:] *= ramp[::-1, None]
    return audio


def _ramp(n: int) -> npt.NDArray[np.float32]:
    return (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float64))).astype(np.float32)


def fade_blocks(blocks: Iterable[Audio], sample_rate: int, fade_in_seconds: float, fade_out_seconds: float,
                frames: int) -> Iterator[Audio]:
    """:func:`fade` on consecutive blocks of a signal ``frames`` long (the same samples as fading it whole).

    Blocks inside a fade are copied before they are scaled, so a block the caller keeps is never changed.
    """
    n_in = min(frames, round(fade_in_seconds * sample_rate))
    n_out = min(frames, round(fade_out_seconds * sample_rate))
    ramp_in = _ramp(n_in) if n_in > 0 else None
    ramp_out = _ramp(n_out)[::-1] if n_out > 0 else None
    out_from = frames - n_out
    position = 0
    for block in blocks:
        start, stop = position, position + block.shape[0]
        position = stop
        if (ramp_in is None or start >= n_in) and (ramp_out is None or stop <= out_from):
            yield block
            continue
        block = block.copy()
        if ramp_in is not None and start < n_in:
            block[:n_in - start] *= ramp_in[start:min(stop, n_in), None]
        if ramp_out is not None and stop > out_from:
            first = max(start, out_from)
            block[first - start:] *= ramp_out[first - out_from:stop - out_from, None]
        yield block


def loop(audio: Audio, sample_rate: int, times: int) -> Audio:
    """Repeat ``audio`` ``times`` times, with 2 ms ramps at the seams so the joins do not click."""
    if times <= 1:
        return audio
    unit = fade(audio.copy(), sample_rate, LOOP_DECLICK_SECONDS, LOOP_DECLICK_SECONDS)
    return np.tile(unit, (times, 1))


def loop_blocks(blocks: Iterable[Audio], sample_rate: int, times: int, frames: int) -> Iterator[Audio]:
    """:func:`loop` on the blocks of a ``frames``-long excerpt: the first pass streams, the repeats replay it."""
    if times <= 1:
        yield from blocks
        return
    unit = []
    for block in fade_blocks(blocks, sample_rate, LOOP_DECLICK_SECONDS, LOOP_DECLICK_SECONDS, frames):
        unit.append(block)
        yield block
    for _ in range(times - 1):
        yield from unit
