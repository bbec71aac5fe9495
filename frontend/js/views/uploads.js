// Artwork and stem upload forms, with upload progress and the API's reason when a file is refused.
import { uploadForm } from "../api.js";
import { field, h } from "../dom.js";
import { submitButton, uploadProgress, whileBusy } from "../forms.js";
import { showError, showStatus } from "../status.js";

async function sendWithProgress(form, progress, path, data, fileName) {
  progress.start();
  showStatus(`Uploading ${fileName}…`, "info");
  try {
    const asset = await whileBusy(form, () => uploadForm(path, data, (fraction) => progress.set(fraction)));
    progress.finish();
    return asset;
  } catch (err) {
    progress.hide();
    throw err;
  }
}

/** Upload one artwork image (with title and caption) to `album`; calls `uploaded(asset)` after. */
export function artworkUploadForm(album, uploaded) {
  const file = h("input", { type: "file", name: "file", required: true, accept: "image/png,image/jpeg,image/webp" });
  const title = h("input", { type: "text", name: "title", maxlength: 300 });
  const caption = h("textarea", { name: "caption", rows: 2, maxlength: 2000 });
  const progress = uploadProgress("Artwork upload progress");
  const form = h("form", { class: "upload-form", "aria-label": "Upload artwork" },
    h("h3", { text: "Upload artwork" }),
    field("Image file", file, "PNG, JPEG or WebP. The whole image is checked; fakes and damaged files are refused."),
    field("Title (optional)", title),
    field("Caption", caption, "Describe the picture; captions guide visual training."),
    progress.element,
    h("div", { class: "actions" }, submitButton("Upload artwork")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    const data = new FormData();
    data.append("file", chosen);
    data.append("title", title.value.trim());
    data.append("caption", caption.value.trim());
    try {
      const asset = await sendWithProgress(form, progress, `/api/albums/${album.id}/artwork`, data, chosen.name);
      showStatus(`Artwork “${asset.title}” uploaded (${asset.width}×${asset.height}).`, "ok");
      form.reset();
      await uploaded(asset);
    } catch (err) {
      showError(err);
    }
  });
  return form;
}

/** Upload one stem to a track chosen from `tracks()`; calls `uploaded(asset)` after. */
export function stemUploadForm(tracks, uploaded) {
  const track = h("select", { name: "track", required: true });
  const stemName = h("input", {
    type: "text", name: "stem_name", required: true, maxlength: 32, pattern: "[a-z][a-z0-9_\\-]{0,31}",
    list: "stem-name-suggestions", autocapitalize: "none", spellcheck: "false",
  });
  const suggestions = h("datalist", { id: "stem-name-suggestions" },
    ["drums", "bass", "vocals", "other", "soprano", "alto", "tenor"].map((n) => h("option", { value: n })));
  const file = h("input", { type: "file", name: "file", required: true, accept: ".wav,.flac,audio/wav,audio/x-wav,audio/flac" });
  const progress = uploadProgress("Stem upload progress");
  const form = h("form", { class: "upload-form", "aria-label": "Upload a stem" },
    h("h3", { text: "Upload a stem" }),
    field("Track", track),
    field("Stem name", stemName, "Lowercase, e.g. drums, bass, vocals."),
    suggestions,
    field("Audio file", file, "Lossless WAV or FLAC."),
    progress.element,
    h("div", { class: "actions" }, submitButton("Upload stem")));
  const refreshTracks = () => {
    const chosen = track.value;
    track.replaceChildren(...tracks().map((t) => h("option", { value: t.id, text: `${t.position}. ${t.title}` })));
    if (chosen) track.value = chosen;
    form.hidden = track.options.length === 0;
  };
  refreshTracks();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    const data = new FormData();
    data.append("file", chosen);
    data.append("stem_name", stemName.value.trim());
    try {
      const asset = await sendWithProgress(form, progress, `/api/tracks/${track.value}/stems`, data, chosen.name);
      showStatus(`Stem “${asset.stem_name}” uploaded (${asset.duration_seconds.toFixed(1)} s).`, "ok");
      file.value = "";
      stemName.value = "";
      await uploaded(asset);
    } catch (err) {
      showError(err);
    }
  });
  return { element: form, refreshTracks };
}
