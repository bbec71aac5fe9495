// The artist console's front page: the albums of every artist this account acts for.
import { apiBlob, apiJson, getJson, postJson } from "../api.js";
import { field, h, replaceChildren } from "../dom.js";
import { fileNameFrom, saveBlob } from "../downloads.js";
import { submitButton, whileBusy } from "../forms.js";
import { navigate } from "../router.js";
import { currentUser } from "../session.js";
import { showError, showStatus } from "../status.js";
import { currentPeriod, statementTable } from "./finance.js";

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
    section.append(newAlbumForm(artist), await promptRulesForm(artist));
    container.append(section);
  }
  container.append(myStatements());
}

/** The words refused in fans' prompts for this artist's visual models, one per line. */
async function promptRulesForm(artist) {
  const rules = await getJson(`/api/artists/${artist.id}/prompt-rules`);
  const words = h("textarea", { name: "blocked_words", rows: 4 });
  words.value = rules.blocked_words.join("\n");
  const form = h("form", { class: "inline-form", "aria-label": `Prompt rules for ${artist.name}` },
    h("h3", { text: "Prompt rules" }),
    field("Blocked words and phrases (one per line)", words,
      "Fans' prompts containing any of these are refused. Other artists' names and requests for a real person's likeness are always refused."),
    h("div", { class: "actions" }, submitButton("Save prompt rules")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const blocked = words.value.split("\n").map((w) => w.trim()).filter(Boolean);
      const saved = await whileBusy(form, () => apiJson("PUT", `/api/artists/${artist.id}/prompt-rules`, { blocked_words: blocked }));
      words.value = saved.blocked_words.join("\n");
      showStatus(`Prompt rules saved: ${saved.blocked_words.length} blocked.`, "ok");
    } catch (err) {
      showError(err);
    }
  });
  return form;
}

/** The artist's own royalty statements (only the payees linked to their artists). */
function myStatements() {
  const period = h("input", { type: "month", name: "period", value: currentPeriod(), required: true });
  const result = h("div", {});
  const csv = h("button", { type: "button", class: "secondary", text: "Download CSV" });
  const form = h("form", { class: "row-form", "aria-label": "Choose my statement" },
    field("Period", period), h("div", { class: "actions" }, submitButton("Show statement"), csv));
  const show = async () => {
    const lines = await getJson(`/api/statements/mine?period=${encodeURIComponent(period.value)}`);
    replaceChildren(result, statementTable(lines, `My statement ${period.value}`));
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await whileBusy(form, show);
    } catch (err) {
      showError(err);
    }
  });
  csv.addEventListener("click", async () => {
    try {
      const { blob, response } = await apiBlob("GET", `/api/statements/mine.csv?period=${encodeURIComponent(period.value)}`);
      const name = fileNameFrom(response.headers.get("Content-Disposition")) || `statement-${period.value}.csv`;
      saveBlob(blob, name);
      showStatus(`Statement saved as ${name}.`, "ok");
    } catch (err) {
      showError(err);
    }
  });
  show().catch(showError);
  return h("section", { class: "card", "aria-labelledby": "my-statements-title" },
    h("h2", { id: "my-statements-title", text: "My statements" }), form, result);
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
