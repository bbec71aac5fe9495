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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from remix.audio.decode import Audio
from remix.audio.filters import apply_filter
from remix.audio.mix import MixInput, db_to_gain, fade, limit, loop, mix, pan_gains
from remix.audio.spec import RemixSpec
from remix.audio.stretch import N_FFT, change_tempo_and_key, fit_length

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
    length = max(1, round(spec.window.length_seconds * sample_rate))
    before = min(context, start)
    after = max(0, min(context, track_frames - (start + length)))
    return WindowFrames(start=start, length=length, before=before, after=after)


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
    track_frames = max((audio.shape[0] for audio in stems.values()), default=0)
    reshape = spec.tempo != 1.0 or spec.key_shift != 0 or spec.filter.kind != "none"
    window = window_frames(spec, sample_rate, track_frames, context=CONTEXT_FRAMES if reshape else 0)
    first, last = window.start - window.before, window.start + window.length + window.after
    mixed = mix(mix_inputs(stems, spec, first, last), last - first)

    shaped = change_tempo_and_key(mixed, sample_rate, spec.tempo, spec.key_shift)
    shaped = apply_filter(shaped, sample_rate, spec.filter.kind, spec.filter.cutoff_hz)
    lead = round(window.before / spec.tempo)
    frames = round(window.length / spec.tempo)
    # Rounding of the stretched length can lose the last frame; pad it back with silence.
    excerpt = fit_length(shaped[lead:lead + frames], frames)

    excerpt = limit(excerpt, sample_rate)
    out = loop(excerpt, sample_rate, spec.window.loops)
    # mix() wrote a fresh buffer and every later step returns it or a new array, never a cached stem,
    # so the fades may work in place.
    return fade(out, sample_rate, spec.fade_in_seconds, spec.fade_out_seconds)
