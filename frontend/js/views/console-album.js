// One album in the artist console: its artwork, tracks and stems, uploads, and consent grants.
import { getJson, postJson } from "../api.js";
import { formatSeconds } from "../dates.js";
import { field, h, replaceChildren } from "../dom.js";
import { submitButton, whileBusy } from "../forms.js";
import { showError, showStatus } from "../status.js";
import { artworkFigure } from "./artwork.js";
import { grantForm, grantsTable } from "./grants.js";
import { modelsPanel } from "./models.js";
import { pricesPanel, splitProposalPanel } from "./selling.js";
import { splitSheetsPanel } from "./splits.js";
import { artworkUploadForm, stemUploadForm } from "./uploads.js";

function kib(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

export async function renderConsoleAlbum(container, albumId) {
  const state = { album: null, tracks: [], grants: [], uses: new Map() };
  const artworkList = h("div", { class: "gallery" });
  const trackList = h("div", {});
  const grantsList = h("div", {});

  const assets = () => [
    ...state.album.artwork.map((a) => ({ id: a.id, label: `Artwork: ${a.title}` })),
    ...state.tracks.flatMap((t) => t.stems.map((s) => ({ id: s.id, label: `Stem: ${t.title} — ${s.stem_name}` }))),
  ];
  const assetName = (id) => assets().find((a) => a.id === id)?.label ?? `asset ${id}`;

  async function load() {
    state.album = await getJson(`/api/albums/${albumId}`);
    state.tracks = await Promise.all([...state.album.tracks].sort((a, b) => a.position - b.position)
      .map((t) => getJson(`/api/tracks/${t.id}`)));
    state.grants = await getJson(`/api/consent/grants?album_id=${albumId}`);
    await loadUses();
  }

  // What relies on each grant: models trained, outputs rendered and licences sold under it.
  async function loadUses() {
    const uses = await Promise.all(state.grants.map((g) => getJson(`/api/consent/grants/${g.id}/uses`)));
    state.uses = new Map(uses.map((u) => [u.grant_id, u]));
  }

  function usedBy(grant) {
    const uses = state.uses.get(grant.id);
    if (!uses) return "—";
    const parts = uses.models.map((m) => `Model ${m.id} (${m.status.replace("_", " ")})`);
    const rendered = Object.values(uses.renders).reduce((a, b) => a + b, 0);
    if (rendered) parts.push(`${rendered} render${rendered === 1 ? "" : "s"}`);
    if (uses.sales.length) parts.push(`${uses.sales.length} licence${uses.sales.length === 1 ? "" : "s"} sold`);
    return parts.length ? parts.join(", ") : "—";
  }

  await load();
  const models = modelsPanel(state.album, () => reloadGrants());
  await models.reload();
  const splits = splitSheetsPanel(() => state.tracks);
  // The API lets the track's artist propose split sheets and set prices too. Finance's payee list is not theirs
  // to read, so they propose among the payees already named on this album's sheets.
  const proposal = splitProposalPanel(() => state.tracks, () => splits.payees(), {
    versions: false,
    proposed: () => reloadSplits(),
    intro: "Propose new shares of a track among the payees on this album's split sheets (finance adds new payees). Accept your proposal under Split sheets; finance then approves it.",
    noPayees: "No payees to choose from yet: finance creates them and proposes this album's first split sheets.",
  });
  const prices = pricesPanel(() => state.tracks);

  async function reloadSplits() {
    await splits.reload();
    proposal.refreshPayees();
  }
  const stemForm = stemUploadForm(() => state.tracks, () => reload());
  const grants = grantForm(() => [
    { value: `album:${state.album.id}`, label: "Whole album (all its artwork and stems, now and later)" },
    ...assets().map((a) => ({ value: `asset:${a.id}`, label: a.label })),
  ], () => reload());

  function draw() {
    drawArtwork();
    drawTracks();
    replaceChildren(grantsList, grantsTable(state.grants, assetName, () => reload(), usedBy));
    stemForm.refreshTracks();
    grants.refreshTargets();
    proposal.refreshTracks();
    prices.refreshTracks();
  }

  async function reload() {
    await load();
    await models.reload();
    draw();
    await reloadSplits();
  }

  async function reloadGrants() {
    await loadUses();
    replaceChildren(grantsList, grantsTable(state.grants, assetName, () => reload(), usedBy));
  }

  function drawArtwork() {
    if (state.album.artwork.length === 0) {
      replaceChildren(artworkList, h("p", { class: "empty-note", text: "No artwork uploaded yet." }));
      return;
    }
    replaceChildren(artworkList, state.album.artwork.map((asset) => {
      const figure = artworkFigure(asset);
      figure.append(h("p", { class: "muted small", text: `${asset.width}×${asset.height} · ${asset.media_type} · ${kib(asset.size_bytes)}` }));
      return figure;
    }));
  }

  function drawTracks() {
    if (state.tracks.length === 0) {
      replaceChildren(trackList, h("p", { class: "empty-note", text: "No tracks yet. Add one below, then upload its stems." }));
      return;
    }
    replaceChildren(trackList, h("ol", { class: "track-list" }, state.tracks.map((t) => h("li", { value: t.position },
      h("strong", { text: t.title }),
      h("span", { class: "muted", text: t.stems.length ? ` — stems: ${t.stems.map((s) => `${s.stem_name} (${formatSeconds(s.duration_seconds)})`).join(", ")}` : " — no stems yet" })))));
  }

  draw();
  const album = state.album;
  container.append(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/console", text: "Artist console" }), " › ", album.title),
    h("h1", { text: album.title }),
    h("p", { class: "lede", text: [album.artist.name, album.year].filter(Boolean).join(" · ") }),
    h("section", { class: "card", "aria-labelledby": "artwork-title" },
      h("h2", { id: "artwork-title", text: "Artwork" }), artworkList, artworkUploadForm(album, () => reload())),
    h("section", { class: "card", "aria-labelledby": "tracks-title" },
      h("h2", { id: "tracks-title", text: "Tracks and stems" }), trackList,
      h("div", { class: "two-forms" }, newTrackForm(album, () => state.tracks, () => reload()), stemForm.element)),
    h("section", { class: "card", "aria-labelledby": "consent-title" },
      h("h2", { id: "consent-title", text: "Consent" }),
      h("p", { class: "muted", text: "Nothing of this album is used without a live grant. Revoking stops every use at once." }),
      grantsList, grants.element),
    models.element,
    splits.element,
    proposal.element,
    prices.element,
  );
  await Promise.all([reloadSplits(), prices.reload()]);
}

function newTrackForm(album, tracks, created) {
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 300 });
  const position = h("input", { type: "number", name: "position", required: true, min: 1, max: 999, inputmode: "numeric" });
  const bpm = h("input", { type: "number", name: "bpm", min: 1, max: 400, step: "any", inputmode: "decimal" });
  const key = h("input", { type: "text", name: "musical_key", maxlength: 16, placeholder: "e.g. C major" });
  const nextPosition = () => String(Math.max(0, ...tracks().map((t) => t.position)) + 1);
  position.value = nextPosition();
  const form = h("form", { class: "upload-form", "aria-label": "Add a track" },
    h("h3", { text: "Add a track" }),
    field("Track title", title),
    h("div", { class: "row" }, field("Position", position), field("BPM (optional)", bpm)),
    field("Key (optional)", key),
    h("div", { class: "actions" }, submitButton("Add track")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const track = await whileBusy(form, () => postJson(`/api/albums/${album.id}/tracks`, {
        title: title.value.trim(),
        position: Number(position.value),
        bpm: bpm.value ? Number(bpm.value) : null,
        musical_key: key.value.trim() || null,
      }));
      showStatus(`Track “${track.title}” added.`, "ok");
      form.reset();
      await created(track);
      position.value = nextPosition();
    } catch (err) {
      showError(err);
    }
  });
  return form;
}
