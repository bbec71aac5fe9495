// The fan's mixer: per-stem level, pan, mute and solo; tempo, key, filter; the excerpt window;
// Play (a rendered preview) and a 30-second clip download. The server renders; this page only edits
// the RemixSpec and plays what comes back.
import { apiBlob, getJson } from "../api.js";
import { formatSeconds } from "../dates.js";
import { fileNameFrom, saveBlob, slug } from "../downloads.js";
import { field, h, replaceChildren, uniqueId } from "../dom.js";
import { headline, sentence } from "../errors.js";
import { formatDb, formatHz, formatPan, formatSemitones, slider, toggle } from "../controls.js";
import { LIMITS, audibleStems, defaultMix, outputSeconds, previewSpec, toSpec } from "../remix-spec.js";
import { showError, showStatus } from "../status.js";

const DEFAULT_WINDOW_SECONDS = 20;

/** What the audio engine says about this track's stems; null when this server has no audio engine. */
async function trackStems(track) {
  try {
    return await getJson(`/api/tracks/${track.id}/stems`);
  } catch (err) {
    // A 404 without a typed error means the route itself is missing, not the track.
    if (err.kind === "UnexpectedAnswer" && (err.status === 404 || err.status === 405)) return null;
    throw err;
  }
}

function notice(title, text) {
  return h("div", { class: "unavailable" }, h("strong", { text: title }), h("br"), text);
}

/**
 * The mixer on a track page. `hooks.changed(mix)` runs after every edit (the live session follows the
 * faders with it); returns the mixer's info from the audio engine, or null when there is nothing to mix.
 */
export async function mountMixer(container, track, hooks = {}) {
  const section = h("section", { class: "mixer", "aria-labelledby": "mixer-title" }, h("h2", { id: "mixer-title", text: "Mixer" }));
  container.append(section);
  let info;
  try {
    info = await trackStems(track);
  } catch (err) {
    section.append(notice(headline(err.kind), sentence(err.detail)));
    return null;
  }
  if (info === null) {
    section.append(notice("Remixing is not available yet",
      "This server does not have the audio engine installed, so previews and clips cannot be made."));
    return null;
  }
  if (info.stems.length === 0) {
    section.append(notice("No stems yet", "The artist has not uploaded this track's stems, so there is nothing to mix."));
    return null;
  }
  if (!info.stems.some((s) => s.allowed.remix_preview)) {
    section.append(notice("Not released for remixing",
      "The artist has not allowed remixing of this track's stems, so there is nothing to play."));
    return null;
  }
  buildMixer(section, track, info, hooks);
  return info;
}

function buildMixer(section, track, info, hooks) {
  const limits = {
    previewSeconds: info.limits?.preview_max_seconds ?? LIMITS.previewSeconds,
    clipSeconds: info.limits?.free_clip_max_seconds ?? LIMITS.clipSeconds,
  };
  const trackSeconds = info.duration_seconds || DEFAULT_WINDOW_SECONDS;
  const stemNames = info.stems.map((s) => s.name);
  // A stem the artist has not released for previews must stay silent, or every preview is refused.
  const withheld = new Set(info.stems.filter((s) => !s.allowed.remix_preview).map((s) => s.name));
  const noClip = info.stems.filter((s) => !s.allowed.download_clip).map((s) => s.name);
  const rates = info.stems.map((s) => s.sample_rate).filter(Boolean);
  const maxCutoff = Math.min(LIMITS.cutoffHz.max, 0.45 * (rates.length ? Math.min(...rates) : 44100));

  const mix = defaultMix(stemNames, Math.min(DEFAULT_WINDOW_SECONDS, trackSeconds));
  for (const name of withheld) mix.stems[name].mute = true;
  const refreshers = [];
  const refresh = () => {
    refreshers.forEach((r) => r());
    hooks.changed?.(mix);
  };

  // Transport first: on a phone it is what the fan reaches for.
  const audio = h("audio", { controls: true, preload: "auto", "aria-label": "Remix preview" });
  const play = h("button", { type: "button", class: "primary", text: "▶ Play preview" });
  const clip = h("button", { type: "button", class: "secondary", text: `Download ${limits.clipSeconds} s clip` });
  const summary = h("p", { class: "muted small", id: "mix-summary" });
  const transport = h("div", { class: "transport" }, play, audio, clip);
  play.setAttribute("aria-describedby", summary.id);
  clip.setAttribute("aria-describedby", summary.id);
  refreshers.push(() => {
    const seconds = outputSeconds(mix);
    const heard = audibleStems(mix);
    const notes = [
      `Your mix lasts ${seconds.toFixed(1)} s (track ${formatSeconds(mix.window.start_seconds)}–` +
        `${formatSeconds(mix.window.start_seconds + mix.window.length_seconds)}); ` +
        `${heard.length ? heard.join(", ") : "no stems"} audible.`,
    ];
    if (seconds > limits.previewSeconds) notes.push(`Previews play its first ${limits.previewSeconds} s.`);
    if (seconds > limits.clipSeconds) notes.push(`Free clips are at most ${limits.clipSeconds} s: shorten the excerpt, raise the tempo or use fewer loops.`);
    if (noClip.length) notes.push(`Clip downloads are not released for: ${noClip.join(", ")}.`);
    summary.textContent = notes.join(" ");
  });

  play.addEventListener("click", async () => {
    play.disabled = true;
    play.setAttribute("aria-busy", "true");
    showStatus("Rendering your preview…", "info");
    try {
      const preview = previewSpec(mix, limits.previewSeconds);
      const { blob } = await apiBlob("POST", `/api/tracks/${track.id}/preview`, preview.spec);
      if (audio.src) URL.revokeObjectURL(audio.src);
      audio.src = URL.createObjectURL(blob);
      showStatus(preview.whole
        ? `Playing your mix (${preview.seconds.toFixed(1)} s).`
        : `Playing the first ${preview.seconds.toFixed(1)} s of your ${outputSeconds(mix).toFixed(1)} s mix.`, "ok");
      // Browsers may refuse to start sound on their own; the player's controls still work then.
      audio.play().catch(() => {});
    } catch (err) {
      showError(err);
    } finally {
      play.disabled = false;
      play.removeAttribute("aria-busy");
    }
  });

  clip.addEventListener("click", async () => {
    clip.disabled = true;
    clip.setAttribute("aria-busy", "true");
    showStatus("Rendering your clip…", "info");
    try {
      const { blob, response } = await apiBlob("POST", `/api/tracks/${track.id}/clip`, toSpec(mix));
      const name = fileNameFrom(response.headers.get("Content-Disposition")) || `${slug(track.title)}-clip.${extensionFor(blob.type)}`;
      saveBlob(blob, name);
      showStatus(`Clip saved as ${name}.`, "ok");
    } catch (err) {
      showError(err);
    } finally {
      clip.disabled = false;
      clip.removeAttribute("aria-busy");
    }
  });

  const stemsSet = h("fieldset", {}, h("legend", { text: "Stems" }),
    h("div", { class: "strips" }, stemNames.map((name) => stemStrip(name, mix, withheld.has(name), refresh, refreshers))));

  const tempo = slider({
    label: "Tempo", name: "tempo", min: LIMITS.tempo.min, max: LIMITS.tempo.max, step: 0.01, value: 1,
    format: (v) => `×${v.toFixed(2)}${track.bpm ? ` · ${Math.round(track.bpm * v)} BPM` : ""}`,
    changed: (v) => { mix.tempo = v; refresh(); },
  });
  const key = slider({
    label: "Key", name: "key_shift", min: LIMITS.keyShift.min, max: LIMITS.keyShift.max, step: 1, value: 0,
    format: formatSemitones, changed: (v) => { mix.key_shift = v; refresh(); },
  });
  const shapeSet = h("fieldset", {}, h("legend", { text: "Tempo and key" }), tempo.element, key.element,
    h("p", { class: "hint", text: "Tempo changes speed without changing pitch; key moves pitch in semitones." }));

  const filterSet = filterControls(mix, maxCutoff, refresh);
  const windowSet = windowControls(mix, trackSeconds, refresh);

  const reset = h("button", { type: "button", class: "secondary small", text: "Reset mix" });
  reset.addEventListener("click", () => {
    replaceChildren(section, h("h2", { id: "mixer-title", text: "Mixer" }));
    buildMixer(section, track, info, hooks);
    showStatus("Mix reset.", "info");
    section.querySelector("button").focus();
  });

  section.append(transport, summary, stemsSet, h("div", { class: "mixer-columns" }, shapeSet, filterSet), windowSet,
    h("div", { class: "actions" }, reset));
  refresh();
}

function stemStrip(name, mix, isWithheld, refresh, refreshers) {
  const settings = mix.stems[name];
  const level = slider({
    label: "Level", name: `${name}-gain`, min: LIMITS.gainDb.min, max: LIMITS.gainDb.max, step: 0.5, value: 0,
    format: formatDb, changed: (v) => { settings.gain_db = v; refresh(); },
  });
  level.input.setAttribute("aria-label", `${name} level`);
  const pan = slider({
    label: "Pan", name: `${name}-pan`, min: -1, max: 1, step: 0.05, value: 0,
    format: formatPan, changed: (v) => { settings.pan = v; refresh(); },
  });
  pan.input.setAttribute("aria-label", `${name} pan`);
  const mute = toggle({ label: "Mute", changed: (on) => { settings.mute = on; refresh(); } });
  const solo = toggle({ label: "Solo", changed: (on) => { settings.solo = on; refresh(); } });
  mute.input.setAttribute("aria-label", `Mute ${name}`);
  solo.input.setAttribute("aria-label", `Solo ${name}`);
  const strip = h("div", { class: "strip", role: "group", "aria-label": `${name} stem` },
    h("h3", { text: name }), level.element, pan.element, h("div", { class: "toggles" }, mute.element, solo.element));
  if (isWithheld) {
    mute.input.checked = true;
    for (const control of strip.querySelectorAll("input")) control.disabled = true;
    strip.append(h("p", { class: "hint", text: "Not released by the artist for previews." }));
  }
  refreshers.push(() => strip.classList.toggle("silent", !audibleStems(mix).includes(name)));
  return strip;
}

// The cutoff slider moves on a log scale: each step is the same musical interval.
const LOG_MIN = Math.log(LIMITS.cutoffHz.min);

function filterControls(mix, maxCutoff, refresh) {
  const kind = h("select", { name: "filter_kind" },
    h("option", { value: "none", text: "Off" }),
    h("option", { value: "lowpass", text: "Low-pass (darker)" }),
    h("option", { value: "highpass", text: "High-pass (thinner)" }));
  const logMax = Math.log(maxCutoff);
  // Rounded down to 0.1 Hz so the top of the scale never exceeds what the server accepts.
  const toHz = (position) => Math.max(LIMITS.cutoffHz.min,
    Math.floor(Math.exp(LOG_MIN + (position / 1000) * (logMax - LOG_MIN)) * 10) / 10);
  const toPosition = (hz) => Math.round(((Math.log(hz) - LOG_MIN) / (logMax - LOG_MIN)) * 1000);
  const cutoff = slider({
    label: "Cutoff", name: "cutoff", min: 0, max: 1000, step: 1, value: toPosition(1000),
    format: (p) => formatHz(toHz(p)), changed: (p) => { mix.filter.cutoff_hz = toHz(p); refresh(); },
  });
  const sync = () => {
    mix.filter.kind = kind.value;
    mix.filter.cutoff_hz = kind.value === "none" ? null : toHz(Number(cutoff.input.value));
    cutoff.input.disabled = kind.value === "none";
    refresh();
  };
  kind.addEventListener("change", sync);
  sync();
  return h("fieldset", {}, h("legend", { text: "Filter" }), field("Type", kind), cutoff.element);
}

function windowControls(mix, trackSeconds, refresh) {
  const w = mix.window;
  const maxLength = Math.min(trackSeconds, 60);
  const start = slider({
    label: "Start", name: "start", min: 0, max: Math.max(0, trackSeconds - 1), step: 0.5, value: 0,
    format: formatSeconds, changed: (v) => { w.start_seconds = v; clampLength(); refresh(); },
  });
  const length = slider({
    label: "Length", name: "length", min: 1, max: maxLength, step: 0.5, value: w.length_seconds,
    format: (v) => `${v.toFixed(1)} s`, changed: (v) => { w.length_seconds = v; clampStart(); refresh(); },
  });
  // The window must stay inside the track: moving one end pushes the other.
  function clampLength() {
    if (w.start_seconds + w.length_seconds > trackSeconds) {
      w.length_seconds = Math.max(1, trackSeconds - w.start_seconds);
      length.set(w.length_seconds);
    }
  }
  function clampStart() {
    if (w.start_seconds + w.length_seconds > trackSeconds) {
      w.start_seconds = Math.max(0, trackSeconds - w.length_seconds);
      start.set(w.start_seconds);
    }
  }
  const number = (name, min, max, step, value, changed) => {
    const input = h("input", { type: "number", name, min, max, step, value, inputmode: "decimal" });
    input.addEventListener("change", () => {
      const v = Math.min(max, Math.max(min, Number(input.value) || min));
      input.value = String(v);
      changed(v);
      refresh();
    });
    return input;
  };
  const loops = number("loops", LIMITS.loops.min, LIMITS.loops.max, 1, 1, (v) => { w.loops = Math.round(v); });
  const fadeIn = number("fade_in", 0, 10, 0.1, 0, (v) => { mix.fade_in_seconds = v; });
  const fadeOut = number("fade_out", 0, 10, 0.1, 0, (v) => { mix.fade_out_seconds = v; });
  // The live session has no window (its playhead moves through the whole track), so say what the excerpt steers.
  const scope = h("p", { class: "hint", id: uniqueId("excerpt-hint"),
    text: "What Play preview and the clip download render. The live stage plays the whole track; " +
      "Save remix keeps up to 30 s from where it is playing." });
  return h("fieldset", { "aria-describedby": scope.id }, h("legend", { text: "Excerpt" }), scope, start.element, length.element,
    h("div", { class: "row compact" }, field("Loops", loops), field("Fade in (s)", fadeIn), field("Fade out (s)", fadeOut)));
}

function extensionFor(mediaType) {
  return { "audio/mpeg": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg" }[mediaType] || "audio";
}
