// Labelled mixer controls: a range slider that shows and announces its value in words.
import { h, uniqueId } from "./dom.js";

/**
 * A labelled slider. `format(value)` gives the text shown beside it (and read by screen readers);
 * `changed(value)` runs on every move. Returns {element, input, set(value)}.
 */
export function slider({ label, min, max, step, value, format, changed, name }) {
  const id = uniqueId("slider");
  const input = h("input", { type: "range", id, name, min, max, step, value });
  // The value is read out through aria-valuetext; this is its visible twin, so screen readers skip it.
  const output = h("span", { class: "value", "aria-hidden": "true" });
  const show = () => {
    const text = format(Number(input.value));
    output.textContent = text;
    input.setAttribute("aria-valuetext", text);
  };
  input.addEventListener("input", () => {
    show();
    changed(Number(input.value));
  });
  show();
  return {
    element: h("div", { class: "slider" }, h("label", { for: id, text: label }), input, output),
    input,
    set(next) {
      input.value = String(next);
      show();
    },
  };
}

/** A labelled checkbox; `changed(checked)` on toggle. */
export function toggle({ label, checked, changed, title }) {
  const input = h("input", { type: "checkbox", checked });
  input.addEventListener("change", () => changed(input.checked));
  return { element: h("label", { title }, input, label), input };
}

/** −6 → "−6.0 dB" (a real minus sign reads better than a hyphen). */
export function formatDb(value) {
  return `${value > 0 ? "+" : value < 0 ? "−" : ""}${Math.abs(value).toFixed(1)} dB`;
}

/** −0.3 → "L 30", 0 → "Centre", 0.5 → "R 50". */
export function formatPan(value) {
  if (Math.abs(value) < 0.005) return "Centre";
  return `${value < 0 ? "L" : "R"} ${Math.round(Math.abs(value) * 100)}`;
}

export function formatSemitones(value) {
  if (value === 0) return "Original";
  return `${value > 0 ? "+" : "−"}${Math.abs(value)} st`;
}

export function formatHz(value) {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} kHz` : `${Math.round(value)} Hz`;
}
