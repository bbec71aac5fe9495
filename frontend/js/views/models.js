// Visual models of one album in the artist console: start training on the consented artwork, watch its
// progress and loss, look at the sample grid, approve or reject. A revoked train_visual grant withdraws a
// model, and this panel says so.
import { apiBlob, getJson, postJson } from "../api.js";
import { formatWhen } from "../dates.js";
import { field, focusAfterRedraw, h, replaceChildren, uniqueId } from "../dom.js";
import { submitButton, whileBusy } from "../forms.js";
import { showError, showStatus } from "../status.js";

const POLL_MS = 1000;
const STATUS_TEXT = {
  training: "Training",
  awaiting_approval: "Awaiting your approval",
  live: "Live",
  rejected: "Rejected",
  withdrawn: "Withdrawn",
  failed: "Failed",
};

/** The panel; `changed()` runs when a model's state changes (the grants table shows which grant each uses). */
export function modelsPanel(album, changed) {
  const list = h("div", {});
  let timer = null;
  let models = [];

  async function reload() {
    models = await getJson(`/api/visual-models?album_id=${album.id}`);
    draw();
    clearTimeout(timer);
    if (models.some((m) => m.status === "training")) {
      // Poll while something trains, until the user leaves the page (the list is then detached).
      timer = setTimeout(() => {
        if (list.isConnected) reload().then(changed).catch(showError);
      }, POLL_MS);
    }
    return models;
  }

  function draw() {
    if (models.length === 0) {
      replaceChildren(list, h("p", { class: "empty-note", text: "No visual models yet." }));
      return;
    }
    replaceChildren(list, h("ul", { class: "model-list" }, [...models].sort((a, b) => b.id - a.id).map((m) => modelCard(m, () => reload().then(changed)))));
  }

  const preset = h("select", { name: "preset" },
    h("option", { value: "demo", text: "Demo (64×64, minutes on a CPU)" }),
    h("option", { value: "tiny", text: "Tiny (seconds; for a quick check)" }));
  const steps = h("input", { type: "number", name: "steps", min: 1, max: 20000, inputmode: "numeric" });
  const form = h("form", { class: "inline-form", "aria-label": "Train a visual model" },
    h("h3", { text: "Train a visual model" }),
    h("p", { class: "hint", text: "Trains only on this album's artwork that a live “Train visuals” grant covers." }),
    h("div", { class: "row" }, field("Preset", preset), field("Steps (optional)", steps)),
    h("div", { class: "actions" }, submitButton("Start training")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const model = await whileBusy(form, () => postJson(`/api/albums/${album.id}/visual-models`, {
        preset: preset.value, steps: steps.value ? Number(steps.value) : null,
      }));
      showStatus(`Training model ${model.id} on ${model.sources.length} artwork${model.sources.length === 1 ? "" : "s"}…`, "info");
      await reload();
      await changed();
    } catch (err) {
      showError(err);
    }
  });

  const element = h("section", { class: "card", "aria-labelledby": "models-title" },
    h("h2", { id: "models-title", text: "Visual models" }), list, form);
  return { element, reload, models: () => models };
}

function modelCard(model, changed) {
  const name = `Model ${model.id}`;
  const percent = Math.round(model.progress * 100);
  const parts = [
    h("h3", {}, name, " ", h("span", { class: `badge model-${model.status}`, text: STATUS_TEXT[model.status] || model.status })),
    h("p", { class: "muted small", text: `${model.preset} preset · ${model.sources.length} artwork · grants ${[...new Set(model.sources.map((s) => s.grant_id))].join(", ") || "—"}` }),
  ];
  if (model.status === "training") {
    const bar = h("progress", { max: 100, value: percent, "aria-label": `${name} training progress` });
    parts.push(h("div", { class: "progress" }, bar,
      h("span", { class: "progress-label", text: `${percent}% · step ${model.steps_done}/${model.steps_total}${model.loss !== null ? ` · loss ${model.loss.toFixed(4)}` : ""}` })));
  } else if (model.loss !== null) {
    parts.push(h("p", { class: "small", text: `Trained ${model.steps_done} steps · final loss ${model.loss.toFixed(4)}` }));
  }
  if (model.status === "failed") parts.push(h("p", { class: "error-text", text: `Training failed: ${model.error}` }));
  if (model.status === "rejected") parts.push(h("p", { class: "small", text: `Rejected: ${model.rejection_reason}` }));
  if (model.status === "withdrawn") {
    parts.push(h("p", { class: "withdrawn-note", role: "note", text: `Withdrawn ${formatWhen(model.withdrawn_at)}: ${model.withdrawal_reason}` }));
  }
  if (model.manifest_hash) {
    const frame = h("div", { class: "samples", "aria-busy": "true" });
    parts.push(h("figure", { class: "sample-grid" }, frame,
      h("figcaption", { class: "muted small", text: "Samples: one column per training caption, one row per seed." })));
    apiBlob("GET", `/api/visual-models/${model.id}/samples.png`).then(({ blob }) => {
      replaceChildren(frame, h("img", { src: URL.createObjectURL(blob), alt: `Sample grid of ${name}` }));
    }).catch((err) => replaceChildren(frame, h("p", { class: "muted small", text: err.detail || "No samples." })))
      .finally(() => frame.removeAttribute("aria-busy"));
  }
  if (model.status === "awaiting_approval") {
    const approve = h("button", { type: "button", class: "primary small", text: "Approve", "aria-label": `Approve ${name}` });
    const reject = h("button", { type: "button", class: "danger small", text: "Reject…", "aria-label": `Reject ${name}` });
    approve.addEventListener("click", async () => {
      try {
        await postJson(`/api/visual-models/${model.id}/approve`);
        showStatus(`${name} is live: fans' visuals use it now.`, "ok");
        await changed();
        focusModel(model);
      } catch (err) {
        showError(err);
      }
    });
    reject.addEventListener("click", () => rejectDialog(model, name, changed));
    parts.push(h("div", { class: "actions" }, approve, reject));
  }
  return h("li", { class: "model", "aria-label": name, dataset: { status: model.status, modelId: model.id } }, parts);
}

/** After approving or rejecting, the redrawn list no longer has the button that had focus: move it to the model. */
function focusModel(model) {
  focusAfterRedraw(document.querySelector(`li.model[data-model-id="${model.id}"]`));
}

function rejectDialog(model, name, changed) {
  const reason = h("textarea", { name: "reason", rows: 3, required: true, maxlength: 2000 });
  const titleId = uniqueId("reject-title");
  const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId },
    h("form", { method: "dialog" }, h("h2", { id: titleId, text: `Reject ${name}?` }),
      field("Reason", reason),
      h("div", { class: "actions" },
        h("button", { type: "submit", value: "cancel", class: "secondary", text: "Cancel", formnovalidate: true }),
        h("button", { type: "submit", value: "reject", class: "danger", text: "Reject model" }))));
  document.body.append(dialog);
  dialog.addEventListener("close", async () => {
    const confirmed = dialog.returnValue === "reject";
    dialog.remove();
    if (!confirmed) return;
    try {
      await postJson(`/api/visual-models/${model.id}/reject`, { reason: reason.value.trim() });
      showStatus(`${name} rejected.`, "ok");
      await changed();
      focusModel(model);
    } catch (err) {
      showError(err);
    }
  });
  dialog.showModal();
  reason.focus();
}
