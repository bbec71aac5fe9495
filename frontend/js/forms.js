// Form behaviour shared by every view: one submit at a time, and a progress bar for uploads.
import { h } from "./dom.js";

export function submitButton(text) {
  return h("button", { type: "submit", class: "primary", text });
}

/** Disable a form's controls while `work` runs, so a double press does not send twice. */
export async function whileBusy(form, work) {
  const controls = [...form.elements].filter((c) => !c.disabled);
  // Disabling the focused control drops focus to <body>; put it back afterwards for keyboard users.
  const focused = form.contains(document.activeElement) ? document.activeElement : null;
  controls.forEach((c) => { c.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    controls.forEach((c) => { c.disabled = false; });
    form.removeAttribute("aria-busy");
    if (focused && document.activeElement === document.body && focused.isConnected) focused.focus();
  }
}

/** A labelled <progress> for one upload; `set(fraction)` with null shows it as indeterminate. */
export function uploadProgress(labelText) {
  const bar = h("progress", { max: 100, value: 0 });
  const label = h("span", { class: "progress-label", text: "Uploading…" });
  const wrapper = h("div", { class: "progress", hidden: true }, bar, label);
  bar.setAttribute("aria-label", labelText);
  return {
    element: wrapper,
    start() {
      wrapper.hidden = false;
      bar.value = 0;
      label.textContent = "Uploading… 0%";
    },
    set(fraction) {
      if (fraction === null) {
        bar.removeAttribute("value");
        label.textContent = "Uploading…";
      } else {
        bar.value = Math.round(fraction * 100);
        // All bytes sent is not the end: the server still decodes and checks the file.
        label.textContent = fraction < 1 ? `Uploading… ${bar.value}%` : "Checking the file…";
      }
    },
    finish() {
      bar.value = 100;
      label.textContent = "Upload complete";
    },
    hide() {
      wrapper.hidden = true;
    },
  };
}
