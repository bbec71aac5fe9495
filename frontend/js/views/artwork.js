// Album artwork as a fan sees it: served only while the artist's remix_preview grant is live,
// so the image is fetched (not linked) to be able to say why it is missing.
import { apiBlob } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { headline, sentence } from "../errors.js";

/** A <figure> that fills itself with the image, or with the reason it may not be shown. */
export function artworkFigure(asset, { caption = true, className = "artwork" } = {}) {
  const frame = h("div", { class: "artwork-frame", "aria-busy": "true" }, h("span", { class: "muted", text: "Loading artwork…" }));
  const figure = h("figure", { class: className, dataset: { assetId: asset.id } }, frame);
  if (caption && (asset.title || asset.caption)) {
    figure.append(h("figcaption", {}, h("strong", { text: asset.title }), asset.caption ? ` — ${asset.caption}` : ""));
  }
  loadInto(frame, asset);
  return figure;
}

async function loadInto(frame, asset) {
  try {
    const { blob } = await apiBlob("GET", `/api/assets/${asset.id}/file`);
    const url = URL.createObjectURL(blob);
    const img = h("img", { src: url, alt: asset.caption || asset.title || "Album artwork", width: asset.width, height: asset.height });
    img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    replaceChildren(frame, img);
  } catch (err) {
    const notReleased = err.kind === "ConsentNotGranted";
    frame.classList.add("withheld");
    replaceChildren(frame, h("p", { class: "withheld-message", role: "note" },
      h("strong", { text: notReleased ? "Artwork not released" : headline(err.kind) }),
      h("br"),
      sentence(err.detail || "")));
  } finally {
    frame.removeAttribute("aria-busy");
  }
}

/** A plain square shown where an album has no artwork at all. */
export function noArtwork() {
  return h("figure", { class: "artwork" }, h("div", { class: "artwork-frame empty" }, h("span", { class: "muted", text: "No artwork yet" })));
}
