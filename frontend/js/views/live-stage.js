// The live stage: a websocket session that plays the server-mixed audio and draws the visuals, with a
// prompt box that steers them. The mixer below it sends every fader, mute, solo, tempo and key change here.
import { formatSeconds } from "../dates.js";
import { h } from "../dom.js";
import { apiBlob } from "../api.js";
import { fileNameFrom, saveBlob, slug } from "../downloads.js";
import { describeError } from "../errors.js";
import { ChunkPlayer, LiveConnection } from "../live.js";
import { showError, showStatus } from "../status.js";
import { withholdArtwork } from "./artwork.js";

const MIX_DEBOUNCE_MS = 80;
const CANVAS_SIZE = 512;
const MAX_RETRIES = 5;

/** The live fields of a mixer's mix (remix/live/audio.py LIVE_FIELDS); the playhead sets the window. */
function liveMix(spec) {
  return { stems: spec.stems, tempo: spec.tempo, key_shift: spec.key_shift, filter: spec.filter, seed: spec.seed };
}

/**
 * Build the stage into `container`. `toSpec(mix)` turns the mixer's state into a RemixSpec; `saved(snapshot)`
 * is called when the fan saves a remix. Returns {mixChanged(mix), close()}.
 */
export function mountLiveStage(container, track, { toSpec, saved }) {
  const canvas = h("canvas", {
    width: CANVAS_SIZE, height: CANVAS_SIZE, class: "stage-canvas", role: "img",
    "aria-label": `Live visuals for ${track.title}`, dataset: { frames: "0" },
  });
  const drawing = canvas.getContext("2d");
  const visualsNote = h("p", { class: "muted small", id: "visuals-note", text: "Connecting…" });
  const clock = h("span", { class: "clock", role: "timer", "aria-label": "Playhead", text: "0:00.0" });
  const play = h("button", { type: "button", class: "primary", text: "▶ Play", disabled: true, "aria-pressed": "false" });
  const prompt = h("input", { type: "text", id: "live-prompt", name: "prompt", maxlength: 300, autocomplete: "off",
    placeholder: "e.g. neon city at night, warm sunrise over water" });
  const promptForm = h("form", { class: "prompt-form", "aria-label": "Steer the visuals" },
    h("label", { for: prompt.id, text: "Prompt" }),
    h("div", { class: "prompt-row" }, prompt, h("button", { type: "submit", class: "secondary", text: "Send prompt" })),
    h("p", { class: "hint", text: "Describe what you want to see; the visuals move towards it while the music plays." }));
  const saveButton = h("button", { type: "button", class: "secondary", text: "Save remix", disabled: true });
  const visualButton = h("button", { type: "button", class: "secondary", text: "Download visual", disabled: true });
  const section = h("section", { class: "stage", "aria-labelledby": "stage-title" },
    h("h2", { id: "stage-title", text: "Live stage" }),
    h("div", { class: "stage-layout" },
      h("div", { class: "stage-screen" }, canvas, visualsNote),
      h("div", { class: "stage-controls" },
        h("div", { class: "transport" }, play, clock),
        promptForm,
        h("div", { class: "actions" }, saveButton, visualButton))));
  container.append(section);
  drawPlaceholder(drawing, "Press Play, then type a prompt");

  const player = new ChunkPlayer();
  let playing = false;
  let lastFrame = null;
  let currentPrompt = "";
  let currentMix = null;
  let mixTimer = null;
  let state = null;
  let connected = false;
  let frames = 0;
  let releasedAgain = false;  // the artist granted again after a revocation; the fan has not pressed Play yet

  const setPlaying = (on) => {
    playing = on;
    play.textContent = on ? "❚❚ Pause" : "▶ Play";
    play.setAttribute("aria-pressed", String(on));
  };

  const describeVisuals = () => {
    // While disconnected the note says so; a frame still being decoded must not paint over it.
    if (!state || !connected) return;
    if (!state.rendering) visualsNote.textContent = "Stopped: this track is no longer released for remixing.";
    else if (releasedAgain) visualsNote.textContent = "Available again: the artist has released this track. Press Play to continue.";
    else if (!state.visuals.available) visualsNote.textContent = `No visuals for this track: ${state.visuals.reason}`;
    else if (frames === 0) visualsNote.textContent = "Visuals are ready: type a prompt to start them.";
    else visualsNote.textContent = `Live visuals from the artist's approved model · frame ${frames}`;
  };

  const connection = new LiveConnection(track.id, {
    state(message) {
      if (retries > 0 && message.resumed) showStatus("Reconnected: your mix, prompt and place in the track were kept.", "ok");
      state = message;
      withholdArtwork(message.artwork_withheld || []);
      if (!message.rendering) {
        setPlaying(false);
        player.stop();
        releasedAgain = false;
      }
      describeVisuals();
    },
    async image(frame) {
      const blob = new Blob([frame.payload], { type: frame.mediaType });
      lastFrame = { blob, sequence: frame.sequence };
      const bitmap = await createImageBitmap(blob);
      drawing.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      frames += 1;
      canvas.dataset.frames = String(frames);
      visualButton.disabled = false;
      describeVisuals();
    },
    audio(frame) {
      if (!playing) return;
      clock.textContent = formatSeconds(frame.timestampMs / 1000);
      player.play(frame);
    },
    error(err) {
      // Sent by the server on its own: a grant was revoked, rendering stopped. The last frame goes too.
      player.stop();
      setPlaying(false);
      drawPlaceholder(drawing, "Stopped by the artist");
      showError(err);
    },
    notice(message) {
      if (message.notice === "SessionNotFound") {
        showStatus("Reconnected, but the server had forgotten this session: a new one started from the top.", "info");
      } else if (message.notice === "VisualsStopped") {
        visualsNote.textContent = `Visuals stopped: ${message.detail.replace(/^visuals are off: /, "")}`;
        drawPlaceholder(drawing, "Visuals stopped");
        showStatus(`Visuals stopped: ${message.detail.replace(/^visuals are off: /, "")}`, "error");
      } else if (message.notice === "Released") {
        // The state that follows says rendering is on again; until the fan presses Play the note says so.
        releasedAgain = true;
        drawPlaceholder(drawing, "Press Play to continue");
        showStatus(`${track.title} is available again: the artist has released it. Press Play to continue.`, "ok");
      } else if (message.notice === "ArtworkWithheld") {
        withholdArtwork(message.asset_ids);
      }
    },
    closed({ final }) {
      connected = false;
      player.stop();
      setPlaying(false);
      play.disabled = true;
      saveButton.disabled = true;
      if (final || !section.isConnected) {
        visualsNote.textContent = "The live session was closed by the server.";
        return;
      }
      reconnect();
    },
  });

  // A dropped connection (network blip, server restart) resumes the same session: mix, prompt and playhead.
  let retries = 0;
  function reconnect() {
    if (retries >= MAX_RETRIES) {
      visualsNote.textContent = "Disconnected. Reload the page to reconnect.";
      return;
    }
    retries += 1;
    visualsNote.textContent = `Reconnecting (attempt ${retries} of ${MAX_RETRIES})…`;
    setTimeout(() => {
      if (!section.isConnected) return;
      connection.open().then(started).catch(() => reconnect());
    }, 1000 * retries);
  }

  function started() {
    retries = 0;
    connected = true;
    play.disabled = false;
    saveButton.disabled = false;
    describeVisuals();
    if (currentMix) sendMix();
  }

  async function sendMix() {
    mixTimer = null;
    if (!connected || !currentMix) return;
    try {
      await connection.send("mix", { spec: liveMix(toSpec(currentMix)) });
    } catch (err) {
      showError(err);
    }
  }

  connection.open().then(started).catch((err) => {
    visualsNote.textContent = describeError(err);
    drawPlaceholder(drawing, "Live session unavailable");
  });

  play.addEventListener("click", async () => {
    try {
      if (playing) {
        setPlaying(false);
        player.stop();
        await connection.send("pause");
      } else {
        await player.start();  // inside the click: browsers only let a page start sound from a gesture
        setPlaying(true);
        releasedAgain = false;
        describeVisuals();
        await connection.send("play");
        showStatus(`Playing ${track.title} live.`, "ok");
      }
    } catch (err) {
      setPlaying(false);
      player.stop();
      showError(err);
    }
  });

  promptForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text) {
      showStatus("Please check your input: type what you want to see first.", "error");
      prompt.focus();
      return;
    }
    try {
      const answer = await connection.send("prompt", { text });
      currentPrompt = text;
      if (state && !state.rendering) {
        // The server keeps the prompt, but nothing renders until the artist releases the track again.
        showStatus(`Prompt “${text}” saved, but nothing is shown: this track is no longer released for remixing.`, "info");
      } else if (answer.visuals) {
        showStatus(`Prompt “${text}” is shaping the visuals.`, "ok");
      } else {
        showStatus(`Prompt saved, but ${state?.visuals.reason || "visuals are off"}.`, "info");
      }
    } catch (err) {
      showError(err);
      prompt.focus();
    }
  });

  saveButton.addEventListener("click", async () => {
    saveButton.disabled = true;
    try {
      const duration = state?.duration_seconds ?? 30;
      const answer = await connection.send("snapshot", {
        title: `${track.title} remix`, length_seconds: Math.min(30, Math.max(1, Math.floor(duration * 1000) / 1000)),
      });
      // Say which part of the track was kept: it is where the live stage is playing, not the mixer's excerpt.
      showStatus(`Remix saved (#${answer.snapshot_id}): ${excerptOf(answer.spec)} of the track. ` +
        "You can download it as a clip or buy the long version below.", "ok");
      await saved(answer);
    } catch (err) {
      showError(err);
    } finally {
      saveButton.disabled = !connected;
    }
  });

  // The download is rendered again by the server from the frame on screen and the current prompt, so the file
  // carries its watermark and signed manifest (remix/provenance); the live stream's frames are not stamped.
  visualButton.addEventListener("click", async () => {
    if (!lastFrame || !state?.visuals.model_id) return;
    visualButton.disabled = true;
    try {
      const initImage = await blobToBase64(lastFrame.blob);
      const { blob, response } = await apiBlob("POST", `/api/visual-models/${state.visuals.model_id}/download?format=jpeg`, {
        prompt: currentPrompt || track.title, init_image: initImage, strength: 0.3, size: CANVAS_SIZE / 2,
      });
      const name = fileNameFrom(response.headers.get("Content-Disposition")) || `${slug(track.title)}-visual.jpg`;
      saveBlob(blob, name);
      showStatus(`Visual saved as ${name}, watermarked and signed as a licensed render.`, "ok");
    } catch (err) {
      showError(err);
    } finally {
      visualButton.disabled = !lastFrame;
    }
  });

  // Leaving the page ends the session (the hash router replaces the view without unloading).
  const leave = () => {
    if (!section.isConnected) {
      player.stop();
      connection.close();
      window.removeEventListener("hashchange", leave);
    }
  };
  window.addEventListener("hashchange", leave);

  return {
    mixChanged(mix) {
      currentMix = mix;
      // Faders fire many events a second; the latest value after a short pause is what matters.
      if (mixTimer === null) mixTimer = setTimeout(sendMix, MIX_DEBOUNCE_MS);
    },
    close() {
      player.stop();
      connection.close();
    },
  };
}

/** "0:12.5–0:42.5": the part of the track a saved remix's spec keeps. */
export function excerptOf(spec) {
  const kept = spec?.window;
  if (!kept) return "the whole track";
  return `${formatSeconds(kept.start_seconds)}–${formatSeconds(kept.start_seconds + kept.length_seconds)}`;
}

function drawPlaceholder(drawing, text) {
  const { width, height } = drawing.canvas;
  const gradient = drawing.createLinearGradient(0, 0, width, height);
  gradient.addColorStop(0, "#1c1b22");
  gradient.addColorStop(1, "#4338ca");
  drawing.fillStyle = gradient;
  drawing.fillRect(0, 0, width, height);
  drawing.fillStyle = "#ffffff";
  drawing.font = "600 24px system-ui, sans-serif";
  drawing.textAlign = "center";
  drawing.fillText(text, width / 2, height / 2);
}

/** The bytes of `blob` as base64 (the render API takes the previous frame that way). */
function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}
