// The RemixSpec a fan builds in the mixer, in the exact shape remix/audio/spec.py accepts
// (unknown fields are refused there, so names here must match it).

export const LIMITS = {
  gainDb: { min: -60, max: 12 },
  tempo: { min: 0.5, max: 2.0 },
  keyShift: { min: -12, max: 12 },
  cutoffHz: { min: 20, max: 20000 },
  loops: { min: 1, max: 16 },
  fadeSeconds: { min: 0, max: 60 },
  // Fallbacks; the server states its own in GET /api/tracks/{id}/stems (limits).
  previewSeconds: 10,
  clipSeconds: 30,
};

/** A stem's settings before the fan touches anything (the spec's defaults). */
export function defaultStem() {
  return { gain_db: 0, mute: false, solo: false, pan: 0 };
}

/** A mix of `stemNames` playing the first `lengthSeconds` of the track, everything at its default. */
export function defaultMix(stemNames, lengthSeconds) {
  return {
    stems: Object.fromEntries(stemNames.map((name) => [name, defaultStem()])),
    tempo: 1,
    key_shift: 0,
    filter: { kind: "none", cutoff_hz: null },
    window: { start_seconds: 0, length_seconds: lengthSeconds, loops: 1 },
    fade_in_seconds: 0,
    fade_out_seconds: 0,
    seed: 0,
  };
}

/** How long the rendered audio lasts: the window, sped up or slowed by tempo, times the loops. */
export function outputSeconds(mix) {
  return (mix.window.length_seconds / mix.tempo) * mix.window.loops;
}

/** The stems that will be heard: unmuted, and soloed if any stem is soloed (as the server decides). */
export function audibleStems(mix) {
  const names = Object.keys(mix.stems);
  const soloing = names.some((n) => mix.stems[n].solo);
  return names.filter((n) => !mix.stems[n].mute && (mix.stems[n].solo || !soloing));
}

const round = (value, places) => Number(value.toFixed(places));

/** The JSON body for POST /api/tracks/{id}/preview and /clip. */
export function toSpec(mix) {
  return {
    stems: Object.fromEntries(Object.entries(mix.stems).map(([name, s]) => [name, {
      gain_db: round(s.gain_db, 2), mute: s.mute, solo: s.solo, pan: round(s.pan, 3),
    }])),
    tempo: round(mix.tempo, 3),
    key_shift: mix.key_shift,
    filter: mix.filter.kind === "none" ? { kind: "none" } : { kind: mix.filter.kind, cutoff_hz: round(mix.filter.cutoff_hz, 1) },
    window: {
      start_seconds: round(mix.window.start_seconds, 3),
      length_seconds: round(mix.window.length_seconds, 3),
      loops: mix.window.loops,
    },
    fade_in_seconds: round(mix.fade_in_seconds, 2),
    fade_out_seconds: round(mix.fade_out_seconds, 2),
    seed: mix.seed,
  };
}

/**
 * The part of `mix` a preview may render: previews are at most `maxSeconds` of output, so a longer mix
 * is previewed from its start (fewer loops first, then a shorter window). Returns {spec, seconds, whole}.
 */
export function previewSpec(mix, maxSeconds) {
  const whole = outputSeconds(mix);
  if (whole <= maxSeconds) return { spec: toSpec(mix), seconds: whole, whole: true };
  const pass = mix.window.length_seconds / mix.tempo;
  const preview = structuredClone(mix);
  if (pass <= maxSeconds) {
    preview.window.loops = Math.max(1, Math.floor(maxSeconds / pass));
  } else {
    preview.window.loops = 1;
    // Round down to the millisecond so rounding never pushes the chunk past the limit.
    preview.window.length_seconds = Math.floor(maxSeconds * mix.tempo * 1000) / 1000;
  }
  const seconds = outputSeconds(preview);
  // The chunk stops mid-mix: no fade-out, and the fade-in must still fit.
  preview.fade_out_seconds = 0;
  preview.fade_in_seconds = Math.min(preview.fade_in_seconds, seconds);
  return { spec: toSpec(preview), seconds, whole: false };
}
