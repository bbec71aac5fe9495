"""The render pipeline, pure numpy: decoded stems + a ``RemixSpec`` → float32 stereo audio.

Order, and why:

1. Window first. Only the frames the excerpt needs are mixed (plus a little context on each side, so the
   time-stretcher and filter start and end on real audio rather than a cut). At tempo ``r`` an output of
   ``L`` seconds reads ``L × r`` seconds of the track, which is exactly the window.
2. Mix the audible stems in float32 (gain, constant-power pan; solo and mute decide who is audible).
3. Tempo and key on the stereo mix, once — never per stem; the operations before are linear, so the
   result is the same and the cost is a quarter.
4. Filter, then cut the context off again.
5. Limit the excerpt to −1 dBFS, loop it, fade the ends.

Steps 3–5 run as a stream (:func:`render_blocks`): the vocoder hands over each stretch of output as soon
as it is final, and filter, limiter (with its 15 ms look-ahead), loop and fades pass it on block by block,
so an encoder can work on the start of a clip on the second core while the end is still being stretched.
:func:`render` joins the same blocks, so the samples are the same whichever way a render is consumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from remix.audio.decode import Audio
from remix.audio.filters import filter_blocks
from remix.audio.mix import MixInput, db_to_gain, fade_blocks, limit_blocks, loop_blocks, mix, pan_gains
from remix.audio.spec import RemixSpec
from remix.audio.stretch import N_FFT, tempo_and_key_segments

# Context mixed on each side of the window when it will be stretched or filtered: two analysis windows.
CONTEXT_FRAMES = 2 * N_FFT


@dataclass(frozen=True)
class WindowFrames:
    """The excerpt window in frames, with how much context can be read around it."""

    start: int
    length: int
    before: int
    after: int


def window_frames(spec: RemixSpec, sample_rate: int, track_frames: int, *, context: int) -> WindowFrames:
    start = round(spec.window.start_seconds * sample_rate)
    length = window_length_frames(spec, sample_rate)
    before = min(context, start)
    after = max(0, min(context, track_frames - (start + length)))
    return WindowFrames(start=start, length=length, before=before, after=after)


def window_length_frames(spec: RemixSpec, sample_rate: int) -> int:
    return max(1, round(spec.window.length_seconds * sample_rate))


def excerpt_frames(spec: RemixSpec, sample_rate: int) -> int:
    """Frames of one pass of the processed excerpt: the window in whole frames, stretched by the tempo, rounded."""
    return round(window_length_frames(spec, sample_rate) / spec.tempo)


def output_frames(spec: RemixSpec, sample_rate: int) -> int:
    """How many frames :func:`render` gives for ``spec``, known before rendering. Each loop repeats the rounded
    excerpt, so this can differ from ``spec.output_seconds × sample_rate`` by about a frame per loop."""
    return excerpt_frames(spec, sample_rate) * max(1, spec.window.loops)


def mix_inputs(stems: Mapping[str, Audio], spec: RemixSpec, first: int, last: int) -> list[MixInput]:
    """The audible stems, sliced to frames ``[first, last)``, with their gains."""
    inputs = []
    for name in spec.audible_stems(stems):
        settings = spec.settings_for(name)
        gain = db_to_gain(settings.gain_db)
        left, right = pan_gains(settings.pan)
        inputs.append(MixInput(stems[name][first:last], gain * left, gain * right))
    return inputs


def render(stems: Mapping[str, Audio], spec: RemixSpec, sample_rate: int) -> Audio:
    """Render ``spec`` from ``stems`` (name → ``(frames, 2)`` float32 at ``sample_rate``).

    Give every stem of the track or only the audible ones: solo and mute are decided here either way.
    The caller checks the window against the track beforehand; a stem shorter than the window is silent
    at its end.
    """
    blocks = list(render_blocks(stems, spec, sample_rate))
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks) if blocks else np.zeros((0, 2), dtype=np.float32)


def render_blocks(stems: Mapping[str, Audio], spec: RemixSpec, sample_rate: int) -> Iterator[Audio]:
    """:func:`render` as consecutive blocks of the output, each yielded as soon as it is final.

    The blocks belong to this render (never views of the cached stems) and nothing changes them once
    yielded, so a consumer may keep them or hand them to another thread; it must not write to them either.
    Their boundaries depend on the spec and the track alone (never on timing).
    """
    track_frames = max((audio.shape[0] for audio in stems.values()), default=0)
    reshape = spec.tempo != 1.0 or spec.key_shift != 0 or spec.filter.kind != "none"
    window = window_frames(spec, sample_rate, track_frames, context=CONTEXT_FRAMES if reshape else 0)
    first, last = window.start - window.before, window.start + window.length + window.after
    mixed = mix(mix_inputs(stems, spec, first, last), last - first)

    shaped = tempo_and_key_segments(mixed, sample_rate, spec.tempo, spec.key_shift)
    # The stretched mix is round(frames / tempo) long; rounding can lose the last frame (padded with silence).
    shaped = frame_range(shaped, 0, round(mixed.shape[0] / spec.tempo))
    shaped = filter_blocks(shaped, sample_rate, spec.filter.kind, spec.filter.cutoff_hz)
    frames = excerpt_frames(spec, sample_rate)
    excerpt = frame_range(shaped, round(window.before / spec.tempo), frames)
    looped = loop_blocks(limit_blocks(excerpt, sample_rate), sample_rate, spec.window.loops, frames)
    return fade_blocks(looped, sample_rate, spec.fade_in_seconds, spec.fade_out_seconds,
                       output_frames(spec, sample_rate))


def frame_range(blocks: Iterable[Audio], skip: int, frames: int) -> Iterator[Audio]:
    """Frames ``[skip, skip + frames)`` of the signal the blocks make up, zero-padded if it ends earlier."""
    position = 0  # of the next block's first frame in the signal
    end = skip + frames
    channels = 2
    for block in blocks:
        channels = block.shape[1]
        start, stop = position, position + block.shape[0]
        position = stop
        lo, hi = max(start, skip), min(stop, end)
        if hi > lo:
            yield block if (lo, hi) == (start, stop) else block[lo - start:hi - start]
        if stop >= end:
            return
    missing = end - max(position, skip)
    if missing > 0:
        yield np.zeros((missing, channels), dtype=np.float32)
