// The artist console's front page: the albums of every artist this account acts for.
import { getJson, postJson } from "../api.js";
import { field, h } from "../dom.js";
import { submitButton, whileBusy } from "../forms.js";
import { navigate } from "../router.js";
import { currentUser } from "../session.js";
import { showError } from "../status.js";

/** Artists this account may manage: its own, or every artist for an admin. */
export async function managedArtists() {
  const user = currentUser();
  const artists = await getJson("/api/artists");
  return user.role === "admin" ? artists : artists.filter((a) => user.artist_ids.includes(a.id));
}

export async function renderConsole(container) {
  container.append(h("h1", { text: "Artist console" }));
  const artists = await managedArtists();
  if (artists.length === 0) {
    container.append(h("p", { class: "empty-note", text: "This account does not act for any artist yet. Ask an admin to attach it to one." }));
    return;
  }
  for (const artist of artists) {
    const albums = await getJson(`/api/albums?artist_id=${artist.id}`);
    const headingId = `artist-${artist.id}-title`;
    const section = h("section", { class: "card", "aria-labelledby": headingId }, h("h2", { id: headingId, text: artist.name }));
    if (albums.length === 0) {
      section.append(h("p", { class: "empty-note", text: "No albums yet." }));
    } else {
      section.append(h("ul", { class: "link-list", "aria-label": `Albums of ${artist.name}` },
        albums.map((album) => h("li", {},
          h("a", { href: `#/console/albums/${album.id}`, text: album.title }),
          album.year ? h("span", { class: "muted", text: ` (${album.year})` }) : null))));
    }
    section.append(newAlbumForm(artist));
    container.append(section);
  }
}

function newAlbumForm(artist) {
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 300 });
  const year = h("input", { type: "number", name: "year", min: 1000, max: 3000, inputmode: "numeric" });
  const form = h("form", { class: "inline-form", "aria-label": `New album for ${artist.name}` },
    h("h3", { text: "New album" }),
    h("div", { class: "row" }, field("Album title", title), field("Year (optional)", year)),
    h("div", { class: "actions" }, submitButton("Create album")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const album = await whileBusy(form, () => postJson(`/api/artists/${artist.id}/albums`, {
        title: title.value.trim(),
        year: year.value ? Number(year.value) : null,
      }));
      navigate(`#/console/albums/${album.id}`, { text: `Album “${album.title}” created.`, tone: "ok" });
    } catch (err) {
      showError(err);
    }
  });
  return form;
}
