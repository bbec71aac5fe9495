"""Tempo and key change: a phase vocoder with identity phase locking, and soxr resampling for pitch.

Why not Rubber Band (``pedalboard.time_stretch``, GPL-3.0, or ffmpeg's ``rubberband`` filter)? It sounds
best, but on this project's 2-core machines it needs 3.4–6.1 CPU-seconds to change tempo and key of a 30 s
stereo excerpt, and the issue asks for 100× real time. librosa's phase vocoder (ISC) needs 1.6 CPU-s, plus
about a minute of numba compilation on first use, and does no phase locking. This vectorised numpy vocoder
needs about 0.5 CPU-s including soxr (LGPL-2.1+, the SoX resampler), which does the pitch axis. See
``benchmarks/README.md`` for the comparison.

How a tempo ratio ``r`` and a shift of ``s`` semitones (pitch factor ``p = 2 ** (s / 12)``) combine: the
vocoder stretches the excerpt to ``p / r`` times its length (pitch unchanged), then soxr resamples it by
``1 / p``, which shortens it to ``1 / r`` of the original and raises every frequency by ``p``.

The vocoder follows Laroche & Dolson (1999): magnitudes are interpolated between analysis frames, peaks
advance their phase by their measured instantaneous frequency, and every other bin keeps its phase offset
to the nearest peak ("identity phase locking"), which avoids the smeared, phasey sound of a plain vocoder.
The phase trajectory is computed once from the mid channel (left + right) and the same rotation is applied
to both channels, so the stereo image does not wander. All of it is deterministic: the same input gives the
same bits.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft
import soxr
from numpy.lib.stride_tricks import sliding_window_view

from remix.audio.decode import Audio

N_FFT = 2048
HOP = N_FFT // 4
PEAK_NEIGHBOURS = 2
# Output frames per block: a block's arrays (~1 MiB per channel) stay in cache between the steps.
BLOCK_STEPS = 128
THREADS = 2
BLOCKS_IN_FLIGHT = 2 * THREADS
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
# Overlap-added squared Hann windows at a hop of N/4 sum to exactly 1.5.
_OLA_GAIN = np.float32(1.5)


def pitch_factor(semitones: int) -> float:
    return float(2.0 ** (semitones / 12.0))


def change_tempo_and_key(audio: Audio, sample_rate: int, tempo: float, semitones: int) -> Audio:
    """Play ``audio`` (``(frames, 2)`` float32) ``tempo`` times as fast and ``semitones`` higher.

    Returns ``round(frames / tempo)`` frames. Tempo 1 and no shift returns the input unchanged.
    """
    if tempo == 1.0 and semitones == 0:
        return audio
    return fit_length(_joined(list(tempo_and_key_segments(audio, sample_rate, tempo, semitones)), audio.shape[1]),
                      round(audio.shape[0] / tempo))


def tempo_and_key_segments(audio: Audio, sample_rate: int, tempo: float, semitones: int) -> Iterator[Audio]:
    """:func:`change_tempo_and_key` as consecutive segments, each yielded as soon as it is final.

    The segments join to the same samples; their total may differ from ``round(frames / tempo)`` by a frame
    or two (the caller trims or pads, as :func:`change_tempo_and_key` does). Tempo 1 and no shift yields the
    input itself. Yielding early lets the caller limit and encode the start while the vocoder's threads are
    still working on the end.
    """
    if tempo == 1.0 and semitones == 0:
        yield audio
        return
    factor = pitch_factor(semitones)
    stretch_rate = tempo / factor  # the vocoder's speed-up; 1 means no time change is needed
    if math.isclose(stretch_rate, 1.0, rel_tol=1e-12):
        segments: Iterator[Audio] = iter([audio])
    else:
        segments = time_stretch_segments(audio, stretch_rate)
    if not semitones:
        yield from segments
        return
    # The resampler takes each stretched segment as soon as the vocoder finishes it, so on two cores it runs
    # while the vocoder's threads work on the next blocks. soxr's stream gives the same samples as one call.
    stream = soxr.ResampleStream(sample_rate * factor, sample_rate, audio.shape[1], dtype="float32", quality="HQ")
    for segment in segments:
        resampled = stream.resample_chunk(segment)
        if resampled.shape[0]:
            yield resampled
    tail = stream.resample_chunk(np.zeros((0, audio.shape[1]), dtype=np.float32), last=True)
    if tail.shape[0]:
        yield tail


def _joined(parts: list[Audio], channels: int) -> Audio:
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=np.float32)
    if not parts:
        return np.zeros((0, channels), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def fit_length(audio: Audio, frames: int) -> Audio:
    """Trim or zero-pad to exactly ``frames`` (resampling rounds to within a frame or two)."""
    if audio.shape[0] == frames:
        return audio
    if audio.shape[0] > frames:
        return audio[:frames]
    return np.concatenate([audio, np.zeros((frames - audio.shape[0], audio.shape[1]), dtype=np.float32)])


@dataclass
class _Block:
    """One run of consecutive output frames, analysed independently of the others."""

    steps: slice
    spectrum: npt.NDArray[np.complex64]  # (channels, steps, bins) analysis frames, magnitudes interpolated
    mid_phase: npt.NDArray[np.complex64]  # (steps, bins) unit phasors of the mid channel
    nearest: npt.NDArray[np.intp]  # (steps, bins) flat index (into one step's bins) of each bin's peak
    advance: npt.NDArray[np.complex64]  # (steps, bins) the locked phase step of each bin


def time_stretch(audio: Audio, rate: float) -> Audio:
    """Play ``audio`` ``rate`` times as fast without changing its pitch: ``round(frames / rate)`` frames out."""
    return _joined(list(time_stretch_segments(audio, rate)), audio.shape[1])


def time_stretch_segments(audio: Audio, rate: float) -> Iterator[Audio]:
    """:func:`time_stretch` as consecutive ``(frames, channels)`` segments, each yielded once it is final.

    Output frames are processed in blocks of ``BLOCK_STEPS``: analysis and synthesis of the blocks run on
    two threads (numpy and the FFT release the GIL), while the phase recursion, which must see the
    blocks in order, runs between them. Blocks are fixed by the input length alone and summed in order,
    so the result does not depend on thread timing. Once a block is added, every sample before the next
    block's first one is complete and is yielded; the threads keep working while the caller uses it.
    """
    frames = audio.shape[0]
    out_frames = round(frames / rate)
    # Output frame t is synthesised from input frame position t * rate. Pad the front by N_FFT so the first
    # samples get full overlap, and the back far enough that every position read exists.
    lead_out = N_FFT / rate
    out_steps = math.ceil((lead_out + out_frames) / HOP) + 2
    in_steps = math.ceil((out_steps - 1) * rate) + 3
    back = max(0, (in_steps - 1) * HOP + N_FFT - (frames + N_FFT))
    padded = np.pad(np.ascontiguousarray(audio.T), ((0, 0), (N_FFT, back)))  # (channels, samples)
    framed = sliding_window_view(padded, N_FFT, axis=-1)[:, ::HOP]  # (channels, in_steps, N_FFT) view

    positions = np.arange(out_steps, dtype=np.float64) * rate
    base = positions.astype(np.int64)
    frac = (positions - base).astype(np.float32)
    blocks = [slice(i, min(i + BLOCK_STEPS, out_steps)) for i in range(0, out_steps, BLOCK_STEPS)]

    channels = audio.shape[1]
    out = np.zeros((channels, (out_steps - 1) * HOP + N_FFT), dtype=np.float32)
    pool = _thread_pool()
    analyses: deque[Future[_Block]] = deque()
    syntheses: deque[tuple[int, Future[npt.NDArray[np.float32]]]] = deque()
    queued = 0
    first_out = round(lead_out)
    end_out = first_out + out_frames
    emitted = first_out

    def add_oldest_synthesis() -> None:
        # Blocks are added in order, so the float sums (and the output bits) never depend on thread timing.
        first_step, future = syntheses.popleft()
        audio_block = future.result()
        offset = first_step * HOP
        out[:, offset:offset + audio_block.shape[1]] += audio_block

    def segment(upto: int) -> Audio:
        samples = np.ascontiguousarray(out[:, emitted:upto].T)
        samples /= _OLA_GAIN
        return samples

    current: npt.NDArray[np.complex64] | None = None
    while queued < len(blocks) or analyses:
        # Keep a few blocks in flight, never all: memory stays bounded however long the excerpt is.
        while queued < len(blocks) and len(analyses) < BLOCKS_IN_FLIGHT:
            analyses.append(pool.submit(_analyse, framed, base, frac, blocks[queued]))
            queued += 1
        block = analyses.popleft().result()
        rotation, current = _lock_phases(block, current)
        syntheses.append((block.steps.start, pool.submit(_synthesise, block, rotation)))
        while len(syntheses) > BLOCKS_IN_FLIGHT:
            add_oldest_synthesis()
            # No block still to be added writes before the oldest one waiting: everything earlier is final.
            final = min(syntheses[0][0] * HOP, end_out)
            if final > emitted:
                yield segment(final)
                emitted = final
    while syntheses:
        # Hand the last blocks over one by one too, so a consumer's work on them (resampling, encoding) starts
        # while the threads finish the rest.
        add_oldest_synthesis()
        final = min(syntheses[0][0] * HOP, end_out) if syntheses else end_out
        if final > emitted:
            yield segment(final)
            emitted = final
_pool: ThreadPoolExecutor | None = None


_pool_lock = threading.Lock()


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="remix-stretch")
        return _pool


def _analyse(framed: npt.NDArray[np.float32], base: npt.NDArray[np.int64], frac: npt.NDArray[np.float32],
             steps: slice) -> _Block:
    first, last = int(base[steps.start]), int(base[steps.stop - 1]) + 2
    spectra = scipy.fft.rfft(framed[:, first:last] * _WINDOW, axis=-1).astype(np.complex64, copy=False)
    magnitudes = np.abs(spectra)
    now_index = base[steps] - first
    now_magnitude = magnitudes[:, now_index]
    # Each channel keeps its analysis phase and takes the magnitude interpolated towards the next frame:
    # spectrum × (interpolated / current magnitude).
    scale = magnitudes[:, now_index + 1] - now_magnitude
    scale *= frac[steps][None, :, None]
    scale += now_magnitude
    np.divide(scale, now_magnitude, out=scale, where=now_magnitude > 0)
    spectrum = spectra[:, now_index]
    spectrum *= scale

    mid = spectra.sum(axis=0)
    mid_magnitude = np.abs(mid)
    mid_phase = _unit(mid, mid_magnitude)
    mid_now, mid_next = mid_phase[now_index], mid_phase[now_index + 1]
    nearest_flat = _nearest_peak(mid_magnitude[now_index] + mid_magnitude[now_index + 1])
    # Output phasor of bin b at step t = (peak's previous output phasor) × (peak's advance) × (b's analysis
    # offset to the peak): Z[t, b] = Z[t-1, peak] × next[peak] × conj(now[peak])² × now[b]. Analysis and
    # synthesis hops are equal, so a bin's advance is exactly next × conj(now): no arctangent, no unwrapping.
    back = np.conj(mid_now)
    peak_term = mid_next * back
    peak_term *= back
    advance = peak_term.reshape(-1).take(nearest_flat).reshape(peak_term.shape)  # a flat take: no per-row loop
    advance *= mid_now
    steps_in_block, bins = peak_term.shape
    nearest = nearest_flat - np.arange(0, steps_in_block * bins, bins)[:, None]
    return _Block(steps, spectrum, mid_now, nearest, advance)


def _lock_phases(block: _Block, current: npt.NDArray[np.complex64] | None
                 ) -> tuple[npt.NDArray[np.complex64], npt.NDArray[np.complex64]]:
    """The block's output phasors turned relative to the mid analysis phase, and the last output phasor."""
    out = np.empty_like(block.mid_phase)
    start = 0
    if current is None:  # the very first frame keeps its analysis phase
        current = block.mid_phase[0]
        out[0] = current
        start = 1
    for t in range(start, out.shape[0]):
        current = current[block.nearest[t]] * block.advance[t]
        out[t] = current
    last = out[-1].copy()
    out *= np.conj(block.mid_phase)
    return out, last


def _synthesise(block: _Block, rotation: npt.NDArray[np.complex64]) -> npt.NDArray[np.float32]:
    """The block's frames, windowed and overlap-added: ``(channels, (steps - 1) * HOP + N_FFT)``."""
    spectrum = block.spectrum
    spectrum *= rotation[None]
    frames = scipy.fft.irfft(spectrum, n=N_FFT, axis=-1)
    frames *= _WINDOW
    return _overlap_add(frames)


def _unit(spectrum: npt.NDArray[np.complex64], magnitude: npt.NDArray[np.float32]) -> npt.NDArray[np.complex64]:
    """``spectrum / |spectrum|`` as phasors; silent bins get phase 0 (a zero phasor would stay zero forever)."""
    silent = magnitude == 0
    reciprocal = np.divide(np.float32(1.0), magnitude, out=np.zeros_like(magnitude), where=~silent)
    unit = spectrum * reciprocal
    unit[silent] = 1.0
    return unit


def _nearest_peak(magnitude: npt.NDArray[np.float32]) -> npt.NDArray[np.intp]:
    """For every (frame, bin), the nearest spectral peak in that frame (ties: the lower peak), as a flat index
    into ``magnitude``.

    A peak is at least as loud as its ``PEAK_NEIGHBOURS`` lower neighbours and louder than its upper ones.
    Peaks are sparse, so rather than scanning every bin forwards and backwards, each peak is given the run
    of bins from the midpoint after the previous peak of its frame up to the midpoint before the next one,
    and the runs are laid out with one ``np.repeat``.
    """
    steps, bins = magnitude.shape
    is_peak = np.ones((steps, bins), dtype=bool)
    for shift in range(1, PEAK_NEIGHBOURS + 1):  # bins past the edges count as quieter than any bin
        is_peak[:, shift:] &= magnitude[:, shift:] >= magnitude[:, :-shift]
        is_peak[:, :-shift] &= magnitude[:, :-shift] > magnitude[:, shift:]
    is_peak[:, 0] |= ~is_peak.any(axis=1)  # a silent frame still needs one anchor
    peaks = np.flatnonzero(is_peak)  # in frame order, then bin order
    frame = peaks // bins
    starts = np.empty_like(peaks)  # flat index of the first bin each peak owns
    starts[0] = 0
    # Within a frame a peak's run starts just past the midpoint from the previous peak; the first peak of a
    # frame owns the bins from the frame's start.
    starts[1:] = np.where(frame[1:] == frame[:-1], (peaks[:-1] + peaks[1:]) // 2 + 1, frame[1:] * bins)
    runs = np.diff(starts, append=steps * bins)
    return np.repeat(peaks, runs).reshape(steps, bins).astype(np.intp, copy=False)


def _overlap_add(frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Overlap-add ``(channels, steps, N_FFT)`` frames at HOP spacing, one strided add per quarter-window."""
    channels, steps, n = frames.shape
    quarters = n // HOP
    total = (steps - 1) * HOP + n
    out = np.zeros((channels, total + n), dtype=np.float32)
    for q in range(quarters):
        # Frames q, q + 4, q + 8, ... do not overlap each other: lay them end to end in one add.
        group = frames[:, q::quarters]
        start = q * HOP
        length = group.shape[1] * n
        out[:, start:start + length] += group.reshape(channels, length)
    return out[:, :total]
