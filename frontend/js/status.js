// The one aria-live status area every view reports into (success, progress and refusals alike).
import { describeError } from "./errors.js";

function region() {
  return document.getElementById("status");
}

/** Show `message`; `tone` is "info", "ok" or "error". */
export function showStatus(message, tone = "info") {
  const el = region();
  el.dataset.tone = tone;
  el.textContent = message;
}

/** Show what went wrong, in words a person can act on (the API's typed error when there is one). */
export function showError(error) {
  showStatus(describeError(error), "error");
}

export function clearStatus() {
  const el = region();
  el.textContent = "";
  delete el.dataset.tone;
}
