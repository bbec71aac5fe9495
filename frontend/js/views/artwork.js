// Album artwork as a fan sees it: served only while the artist's remix_preview grant is live,
// so the image is fetched (not linked) to be able to say why it is missing. The server sends it with
// Cache-Control: no-cache, so each fetch asks again (a revoked grant is never answered from the browser's cache).
import { apiBlob } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { describeError, sentence } from "../errors.js";

/** A <figure> that fills itself with the image, or with the reason it may not be shown. */
export function artworkFigure(asset, { caption = true, className = "artwork" } = {}) {
  const frame = h("div", { class: "artwork-frame", "aria-busy": "true" }, h("span", { class: "muted", text: "Loading artwork…" }));
  const figure = h("figure", { class: className, dataset: { assetId: asset.id } }, frame);
  if (caption && (asset.title || asset.caption)) {
    figure.append(h("figcaption", {}, h("strong", { text: asset.title }), asset.caption ? ` — ${asset.caption}` : ""));
  }
  loaders.set(figure, () => loadInto(frame, asset));
  loadInto(frame, asset);
  return figure;
}

// How to fetch each figure's image again, for artwork the artist releases again while it is on screen.
const loaders = new WeakMap();

async function loadInto(frame, asset) {
  frame.setAttribute("aria-busy", "true");
  try {
    const { blob } = await apiBlob("GET", `/api/assets/${asset.id}/file`);
    const url = URL.createObjectURL(blob);
    const img = h("img", { src: url, alt: asset.caption || asset.title || "Album artwork", width: asset.width, height: asset.height });
    img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    frame.classList.remove("withheld");
    replaceChildren(frame, img);
  } catch (err) {
    if (err.kind === "ConsentNotGranted") {
      showWithheld(frame, "Artwork not released", sentence(err.detail || ""));
    } else {
      showWithheld(frame, "Artwork could not be loaded", describeError(err));
    }
  } finally {
    frame.removeAttribute("aria-busy");
  }
}

function showWithheld(frame, title, reason) {
  frame.classList.add("withheld");
  replaceChildren(frame, h("p", { class: "withheld-message", role: "note" }, h("strong", { text: title }), h("br"), reason));
}

/**
 * Consent news from the live session: `assetIds` is all the album artwork fans may not see now. Pictures of it
 * already on the page are replaced at once by a "withdrawn" note; ones withdrawn earlier and released again
 * are fetched anew.
 */
export function withholdArtwork(assetIds) {
  const withheld = new Set(assetIds.map(String));
  for (const figure of document.querySelectorAll("figure[data-asset-id]")) {
    const frame = figure.querySelector(".artwork-frame");
    if (!frame) continue;
    if (withheld.has(figure.dataset.assetId)) {
      if (figure.dataset.withdrawn === "true") continue;
      figure.dataset.withdrawn = "true";
      showWithheld(frame, "Withdrawn by the artist", "The artist has withdrawn this artwork; it is no longer shown.");
    } else if (figure.dataset.withdrawn === "true") {
      delete figure.dataset.withdrawn;
      loaders.get(figure)?.();
    }
  }
}

/** A plain square shown where an album has no artwork at all. */
export function noArtwork() {
  return h("figure", { class: "artwork" }, h("div", { class: "artwork-frame empty" }, h("span", { class: "muted", text: "No artwork yet" })));
}
