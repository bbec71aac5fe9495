// Browsing albums and tracks. Fans do it in the studio (with the mixer on a track's page);
// finance sees the same catalog read-only.
import { getJson } from "../api.js";
import { h } from "../dom.js";
import { formatSeconds } from "../dates.js";
import { artworkFigure, noArtwork } from "./artwork.js";

const TITLES = { studio: "Fan studio", catalog: "Catalog" };

async function artistNames() {
  const artists = await getJson("/api/artists");
  return new Map(artists.map((a) => [a.id, a.name]));
}

/** #/studio and #/catalog: every album, as cards with cover art. */
export async function renderAlbumList(container, mode) {
  container.append(h("h1", { text: TITLES[mode] }));
  if (mode === "studio") container.append(h("p", { class: "lede", text: "Pick an album, then a track to remix." }));
  const [albums, names] = await Promise.all([getJson("/api/albums"), artistNames()]);
  if (albums.length === 0) {
    container.append(h("p", { class: "empty-note", text: "No albums in the catalog yet." }));
    return;
  }
  const list = h("ul", { class: "album-grid", "aria-label": "Albums" });
  for (const album of albums) {
    const cover = h("div", { class: "cover-slot" });
    list.append(h("li", { class: "album-card" },
      h("a", { href: `#/${mode}/albums/${album.id}`, class: "album-link" },
        cover,
        h("span", { class: "album-title", text: album.title }),
        h("span", { class: "album-meta", text: [names.get(album.artist_id), album.year].filter(Boolean).join(" · ") }),
      )));
    fillCover(cover, album.id);
  }
  container.append(list);
}

async function fillCover(slot, albumId) {
  try {
    const detail = await getJson(`/api/albums/${albumId}`);
    const [first] = detail.artwork;
    slot.append(first ? artworkFigure(first, { caption: false, className: "artwork cover" }) : noArtwork());
  } catch {
    slot.append(noArtwork());
  }
}

/** #/studio/albums/:id — artwork and the track list. */
export async function renderAlbum(container, mode, albumId) {
  const album = await getJson(`/api/albums/${albumId}`);
  container.append(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: `#/${mode}`, text: TITLES[mode] }), " › ", album.title),
    h("h1", { text: album.title }),
    h("p", { class: "lede", text: [album.artist.name, album.year].filter(Boolean).join(" · ") }),
  );
  const layout = h("div", { class: "album-layout" });
  const gallery = h("section", { class: "gallery", "aria-label": "Artwork" });
  if (album.artwork.length === 0) gallery.append(noArtwork());
  for (const asset of album.artwork) gallery.append(artworkFigure(asset));
  const tracks = h("section", { class: "tracks", "aria-labelledby": "tracks-title" }, h("h2", { id: "tracks-title", text: "Tracks" }));
  if (album.tracks.length === 0) {
    tracks.append(h("p", { class: "empty-note", text: "No tracks yet." }));
  } else {
    const list = h("ol", { class: "track-list" });
    for (const track of [...album.tracks].sort((a, b) => a.position - b.position)) {
      list.append(h("li", { value: track.position },
        h("a", { href: `#/${mode}/tracks/${track.id}`, text: track.title }),
        h("span", { class: "muted", text: trackFacts(track) })));
    }
    tracks.append(list);
  }
  layout.append(gallery, tracks);
  container.append(layout);
}

function trackFacts(track) {
  const facts = [];
  if (track.bpm) facts.push(`${Math.round(track.bpm)} BPM`);
  if (track.musical_key) facts.push(track.musical_key);
  return facts.length ? ` — ${facts.join(", ")}` : "";
}

/** The stems' recorded facts as a table (the audio itself never reaches fans). */
export function stemTable(stems) {
  if (stems.length === 0) return h("p", { class: "empty-note", text: "No stems uploaded yet." });
  return h("table", { class: "facts" },
    h("caption", { text: "Stems" }),
    h("thead", {}, h("tr", {}, ["Stem", "Length", "Sample rate", "Channels"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, stems.map((s) => h("tr", {},
      h("th", { scope: "row", text: s.stem_name }),
      h("td", { text: formatSeconds(s.duration_seconds) }),
      h("td", { text: s.sample_rate ? `${(s.sample_rate / 1000).toFixed(1)} kHz` : "—" }),
      h("td", { text: s.channels ?? "—" }))),
    ));
}

/** #/studio/tracks/:id — the track, its stems, and (in the studio) the mixer from `mountMixer`. */
export async function renderTrack(container, mode, trackId, mountMixer) {
  const track = await getJson(`/api/tracks/${trackId}`);
  const album = await getJson(`/api/albums/${track.album_id}`);
  container.append(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: `#/${mode}`, text: TITLES[mode] }), " › ",
      h("a", { href: `#/${mode}/albums/${album.id}`, text: album.title }), " › ", track.title),
    h("h1", { text: track.title }),
    h("p", { class: "lede", text: [album.artist.name, album.title, trackFacts(track).replace(/^ — /, "")].filter(Boolean).join(" · ") }),
  );
  const layout = h("div", { class: "track-layout" });
  const side = h("aside", { class: "track-side", "aria-label": "Album artwork" },
    album.artwork.length ? artworkFigure(album.artwork[0], { caption: false, className: "artwork cover" }) : noArtwork());
  const body = h("div", { class: "track-main" });
  layout.append(body, side);
  container.append(layout);
  if (mountMixer) await mountMixer(body, track);
  body.append(stemTable(track.stems));
}
