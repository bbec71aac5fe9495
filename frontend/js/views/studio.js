// A track in the fan studio: the live stage (visuals, prompts, server-mixed audio), the mixer that steers
// it, and the fan's saved remixes with their clip downloads and the licensed long version for sale.
import { apiBlob, getJson } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { fileNameFrom, saveBlob, slug } from "../downloads.js";
import { formatMoney } from "../money.js";
import { toSpec } from "../remix-spec.js";
import { showError, showStatus } from "../status.js";
import { buyDialog } from "./checkout.js";
import { excerptOf, mountLiveStage } from "./live-stage.js";
import { mountMixer } from "./mixer.js";

export async function mountStudio(body, track) {
  const stageSlot = h("div", {});
  body.append(stageSlot);
  let stage = null;
  let latestMix = null;
  const remixes = savedRemixes(track);
  const info = await mountMixer(body, track, {
    changed(mix) {
      latestMix = mix;
      stage?.mixChanged(mix);
    },
  });
  if (info === null) {
    stageSlot.remove();  // the mixer already says why nothing can be played
    return;
  }
  stage = mountLiveStage(stageSlot, track, { toSpec, saved: () => remixes.reload() });
  if (latestMix) stage.mixChanged(latestMix);
  body.append(remixes.element);
  await remixes.reload();
}

function savedRemixes(track) {
  const list = h("div", {});
  const element = h("section", { class: "card saved-remixes", "aria-labelledby": "saved-title" },
    h("h2", { id: "saved-title", text: "Your saved remixes" }),
    h("p", { class: "muted small", text: "“Save remix” on the live stage keeps the mix and prompt you hear. Download any of them as a clip, or buy its licensed long version." }),
    list);

  async function reload() {
    const [snapshots, products] = await Promise.all([
      getJson(`/api/live/snapshots?track_id=${track.id}`),
      getJson(`/api/tracks/${track.id}/products`).catch(() => []),
    ]);
    // Buy is offered only when the order can succeed (the server judges on_sale by the rules it orders by).
    const offered = products.find((p) => p.product === "full_length") || products[0] || null;
    const product = offered?.on_sale ? offered : null;
    const notForSale = offered && !offered.on_sale
      ? `The long version is not for sale right now: ${offered.not_on_sale_because}.`
      : "The long version is not for sale yet.";
    if (snapshots.length === 0) {
      replaceChildren(list, h("p", { class: "empty-note", text: "Nothing saved yet." }));
      return;
    }
    replaceChildren(list, h("ul", { class: "remix-list" }, [...snapshots].reverse().map((snap) => {
      const name = `${snap.title || "Remix"} #${snap.id}`;
      const clip = h("button", { type: "button", class: "secondary small", text: "Download clip", "aria-label": `Download clip of ${name}` });
      clip.addEventListener("click", () => downloadClip(track, snap, clip));
      const buy = product
        ? h("button", { type: "button", class: "primary small", text: `Buy long version — ${formatMoney(product.price_minor, product.currency)}`,
          "aria-label": `Buy long version of ${name}` })
        : null;
      buy?.addEventListener("click", () => buyDialog(track, product, snap));
      return h("li", {},
        h("div", {}, h("strong", { text: name }),
          h("span", { class: "muted small", text: ` · ${excerptOf(snap.spec)} · spec ${snap.spec_hash.slice(0, 8)}` }),
          snap.prompt ? h("span", { class: "muted small", text: ` · “${snap.prompt}”` }) : null),
        h("div", { class: "actions" }, clip, buy,
          product ? null : h("span", { class: "muted small", text: notForSale })));
    })));
  }
  return { element, reload };
}

async function downloadClip(track, snapshot, button) {
  button.disabled = true;
  showStatus("Rendering your clip…", "info");
  try {
    const { blob, response } = await apiBlob("POST", `/api/tracks/${track.id}/clip`, snapshot.spec);
    const name = fileNameFrom(response.headers.get("Content-Disposition")) || `${slug(track.title)}-clip.mp3`;
    saveBlob(blob, name);
    showStatus(`Clip saved as ${name}.`, "ok");
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
}
