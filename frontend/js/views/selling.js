// Setting up what is sold: payees (finance), a track's split sheet proposed with a running total that must
// reach 100 %, and each track's product prices. The page checks what it can before sending; the server
// checks every rule again, and its refusals are shown as they come (errors.js).
import { apiJson, getJson, postJson } from "../api.js";
import { field, focusAfterRedraw, h, replaceChildren } from "../dom.js";
import { submitButton, whileBusy } from "../forms.js";
import { formatMoney, minorDigits } from "../money.js";
import { showError, showStatus } from "../status.js";

/** Shares are basis points (1/100 of a percent) on the wire; a sheet's lines sum to this. */
export const TOTAL_BASIS_POINTS = 10_000;
const ROLES = ["artist", "label", "songwriter", "producer", "publisher", "platform"];
const DEFAULT_PRODUCT = "full_length";

// How a track's split sheet versions read to finance (the artist console words them for the artist).
const SHEET_STATE = {
  proposed: "Waiting for the artist",
  accepted: "Accepted; waiting for finance",
  approved: "Approved",
  rejected: "Rejected",
};

/** 6000 → "60.00 %". */
export function formatPercent(basisPoints) {
  return `${(basisPoints / 100).toFixed(2)} %`;
}

/** "60", "33.33" → 6000, 3333 (exact, no floats); null for anything else (negative, three decimals, text). */
export function percentToBasisPoints(text) {
  const match = /^(\d{1,3})(?:[.,](\d{1,2}))?$/.exec(String(text).trim());
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

/** "9.99", "EUR" → 999; "1200", "JPY" → 1200. Throws an Error whose message says what to fix. */
export function priceToMinor(text, currency) {
  let digits;
  try {
    digits = minorDigits(currency);
  } catch {
    throw new Error(`“${currency}” is not a currency code; use three letters such as EUR, USD or JPY.`);
  }
  const match = /^(\d+)(?:[.,](\d+))?$/.exec(String(text).trim());
  if (!match) throw new Error(`Enter the price as a number, e.g. ${digits ? `9.${"9".repeat(digits)}` : "1200"}.`);
  const fraction = match[2] ?? "";
  if (fraction.length > digits) {
    throw new Error(digits ? `${currency} prices have at most ${digits} decimals.` : `${currency} prices are whole numbers.`);
  }
  const minor = Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
  if (!Number.isSafeInteger(minor)) throw new Error("That price is too large.");
  if (minor <= 0) throw new Error("The price must be more than zero.");
  return minor;
}

/** 999, "EUR" → "9.99": the form's own notation (no currency sign, no grouping), for editing a price. */
function minorToPrice(minor, currency) {
  const digits = minorDigits(currency);
  if (!digits) return String(minor);
  const text = String(minor).padStart(digits + 1, "0");
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/** Every track in the catalog as {id, title, label: "Album — Track"}, album by album in track order. */
export async function catalogTracks() {
  const albums = await getJson("/api/albums");
  const details = await Promise.all(albums.map((album) => getJson(`/api/albums/${album.id}`)));
  return details.flatMap((album) => [...album.tracks].sort((a, b) => a.position - b.position)
    .map((track) => ({ id: track.id, title: track.title, label: `${album.title} — ${track.title}` })));
}

/**
 * A track menu over `tracks()` ({id, title, label}); `refresh()` refills it, keeping the choice when it is still
 * there, and says whether the chosen track changed (so a panel reloads only then).
 */
function trackMenu(tracks) {
  const select = h("select", { name: "track", required: true });
  const refresh = () => {
    const chosen = select.value;
    replaceChildren(select, tracks().map((t) => h("option", { value: t.id, text: t.label || t.title })));
    if (tracks().some((t) => String(t.id) === chosen)) select.value = chosen;
    return select.value !== chosen;
  };
  refresh();
  return { select, refresh, chosen: () => tracks().find((t) => t.id === Number(select.value)) };
}

function section(id, title, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id, text: title }), children);
}

/**
 * Finance's payees: the list and a form for a new one. `payees` is the page's shared array (the statement
 * and split sheet menus read it); `created(payee)` runs after one is added to it.
 */
export function payeesPanel(payees, artists, created) {
  const list = h("div", {});
  const artistName = (id) => artists.find((a) => a.id === id)?.name ?? `artist ${id}`;
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const artist = h("select", { name: "artist_id" }, h("option", { value: "", text: "None" }),
    artists.map((a) => h("option", { value: a.id, text: a.name })));
  const email = h("input", { type: "email", name: "email", maxlength: 254, autocomplete: "off" });
  const form = h("form", { class: "inline-form", "aria-label": "New payee" },
    h("h3", { text: "New payee" }),
    h("div", { class: "row" },
      field("Payee name", name),
      field("Linked artist (optional)", artist, "The artist's accounts then see this payee's statements."),
      field("Email (optional)", email)),
    h("div", { class: "actions" }, submitButton("Create payee")));

  function draw() {
    if (payees.length === 0) {
      replaceChildren(list, h("p", { class: "empty-note", text: "No payees yet. Create one before proposing a split sheet." }));
      return;
    }
    replaceChildren(list, h("div", { class: "table-scroll" }, h("table", {},
      h("caption", { class: "visually-hidden", text: "Payees" }),  // the card's heading says it already
      h("thead", {}, h("tr", {}, ["Name", "Linked artist", "Email"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, [...payees].sort((a, b) => a.name.localeCompare(b.name)).map((p) => h("tr", {},
        h("th", { scope: "row", text: p.name }),
        h("td", { text: p.artist_id ? artistName(p.artist_id) : "—" }),
        h("td", { text: p.email || "—" })))))));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const payee = await whileBusy(form, () => postJson("/api/finance/payees", {
        name: name.value.trim(),
        artist_id: artist.value ? Number(artist.value) : null,
        email: email.value.trim() || null,
      }));
      payees.push(payee);
      draw();
      created(payee);
      form.reset();
      showStatus(`Payee “${payee.name}” created; split sheets can now pay it.`, "ok");
      name.focus();  // ready for the next payee; the status area says what happened
    } catch (err) {
      showError(err);
    }
  });
  draw();
  return section("payees-title", "Payees", list, form);
}

/**
 * Propose a new split sheet version for a track: payee lines with shares in percent and a running total that
 * must reach exactly 100 % before the sheet is sent. `tracks()` and `payees()` give what the menus offer.
 * Options: `versions` (default true) lists the chosen track's versions and their state below the form (the
 * artist console has its own list); `proposed(sheet)` runs after a proposal is stored.
 * Returns {element, reload, refreshPayees, refreshTracks}.
 */
export function splitProposalPanel(tracks, payees, {
  versions: listVersions = true, proposed = async () => {}, intro, noPayees = "No payees yet: create one under Payees first.",
} = {}) {
  const menu = trackMenu(tracks);
  const track = menu.select;
  const linesBox = h("div", { class: "split-editor" });
  // Not an <output>: that is a second "status" role beside the page's one status area.
  const total = h("p", { class: "split-total", "aria-live": "polite" });
  const note = h("input", { type: "text", name: "note", maxlength: 2000, autocomplete: "off" });
  const addLine = h("button", { type: "button", class: "secondary small", text: "Add a payee" });
  const versions = h("div", {});
  const noPayeesNote = h("p", { class: "empty-note", text: noPayees });
  const lines = [];
  const form = h("form", { class: "split-form", "aria-label": "Propose a split sheet", novalidate: true },
    field("Track", track),
    linesBox,
    h("div", { class: "actions" }, addLine),
    total,
    field("Note (optional)", note, "Shown to the artist with the proposal, e.g. the deal it follows."),
    h("div", { class: "actions" }, submitButton("Propose split sheet")));

  const trackOf = menu.chosen;
  const payeeOptions = (select) => {
    const chosen = select.value;
    replaceChildren(select, h("option", { value: "", text: "Choose a payee" }),
      [...payees()].sort((a, b) => a.name.localeCompare(b.name)).map((p) => h("option", { value: p.id, text: p.name })));
    select.value = chosen;
  };

  function newLine() {
    const payee = h("select", { name: "payee", required: true });
    payeeOptions(payee);
    const role = h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r, text: r })));
    const share = h("input", { type: "text", name: "share", inputmode: "decimal", required: true, autocomplete: "off",
      size: 6 });
    const legend = h("legend", {});
    const remove = h("button", { type: "button", class: "secondary small" });
    const element = h("fieldset", { class: "split-line" }, legend,
      h("div", { class: "row" }, field("Payee", payee), field("Role", role),
        field("Share (%)", share, "Up to two decimals, e.g. 33.33")),
      h("div", { class: "actions" }, remove));
    const line = { element, legend, payee, role, share, remove };
    share.addEventListener("input", showTotal);
    remove.addEventListener("click", () => {
      const at = lines.indexOf(line);
      lines.splice(at, 1);
      element.remove();
      renumber();
      showTotal();
      // The button pressed is gone: continue at the share before it, or at "Add a payee".
      (lines[Math.max(0, at - 1)]?.share ?? addLine).focus();
    });
    lines.push(line);
    linesBox.append(element);
    renumber();
    return line;
  }

  function renumber() {
    lines.forEach((line, i) => {
      line.legend.textContent = `Share ${i + 1}`;
      line.remove.textContent = "Remove";
      line.remove.setAttribute("aria-label", `Remove share ${i + 1}`);
      line.remove.hidden = lines.length === 1;  // a sheet needs at least one line
    });
  }

  /** The total so far in basis points, counting only the shares that parse. */
  function sum() {
    return lines.reduce((acc, line) => acc + (percentToBasisPoints(line.share.value) ?? 0), 0);
  }

  function showTotal() {
    const bp = sum();
    const left = TOTAL_BASIS_POINTS - bp;
    total.dataset.state = left === 0 ? "complete" : "incomplete";
    total.textContent = left === 0 ? `Total ${formatPercent(bp)}: ready to propose.`
      : left > 0 ? `Total ${formatPercent(bp)}: ${formatPercent(left)} still to assign.`
        : `Total ${formatPercent(bp)}: ${formatPercent(-left)} too much.`;
  }

  /** The lines as the API takes them, or {problem, input} naming the first thing to fix. */
  function readLines() {
    const body = [];
    for (const [i, line] of lines.entries()) {
      if (!line.payee.value) return { problem: `Choose the payee of share ${i + 1}.`, input: line.payee };
      const bp = percentToBasisPoints(line.share.value);
      if (bp === null || bp <= 0) {
        return { problem: `Share ${i + 1} must be a percentage above 0 with at most two decimals, e.g. 33.33.`, input: line.share };
      }
      body.push({ payee_id: Number(line.payee.value), role: line.role.value, basis_points: bp });
    }
    const bp = body.reduce((acc, line) => acc + line.basis_points, 0);
    if (bp !== TOTAL_BASIS_POINTS) {
      return {
        problem: `The shares add up to ${formatPercent(bp)}; they must add up to exactly 100 % before the split sheet can be proposed.`,
        input: lines[0].share,
      };
    }
    return { body };
  }

  function startOver() {
    lines.splice(0).forEach((line) => line.element.remove());
    newLine();
    note.value = "";
    showTotal();
  }

  async function reload() {
    const chosen = trackOf();
    if (!listVersions) return;
    if (!chosen) {
      replaceChildren(versions, h("p", { class: "empty-note", text: "There are no tracks yet." }));
      return;
    }
    const sheets = await getJson(`/api/tracks/${chosen.id}/split-sheets`);
    if (sheets.length === 0) {
      replaceChildren(versions, h("p", { class: "empty-note", text: `“${chosen.title}” has no split sheet yet, so it cannot be sold.` }));
      return;
    }
    replaceChildren(versions, h("h3", { text: `Split sheets of “${chosen.title}”` }),
      h("ul", { class: "sheet-list", "aria-label": `Split sheets of ${chosen.title}` },
        [...sheets].sort((a, b) => b.version - a.version).map((sheet) => h("li", {
          class: "sheet", "aria-label": `${chosen.title} v${sheet.version}`, dataset: { sheetId: sheet.id } },
        h("h4", {}, `v${sheet.version} `, h("span", { class: `badge sheet-${sheet.status}`, text: SHEET_STATE[sheet.status] || sheet.status })),
        h("ul", { class: "split-shares" }, sheet.lines.map((line) => h("li", {
          text: `${line.payee_name || `Payee ${line.payee_id}`} (${line.role}): ${formatPercent(line.basis_points)}` }))),
        sheet.note ? h("p", { class: "muted small", text: sheet.note }) : null))));
  }

  addLine.addEventListener("click", () => {
    newLine().payee.focus();
    showTotal();
  });
  track.addEventListener("change", () => reload().catch(showError));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = trackOf();
    const read = chosen ? readLines() : { problem: "There is no track to propose a split sheet for yet.", input: track };
    if (read.problem) {
      showStatus(read.problem, "error");
      read.input.focus();
      return;
    }
    try {
      const sheet = await whileBusy(form, () => postJson(`/api/tracks/${chosen.id}/split-sheets`,
        { lines: read.body, note: note.value.trim() }));
      showStatus(`Split sheet v${sheet.version} of “${chosen.title}” proposed: the artist accepts it next, then finance approves it.`, "ok");
      startOver();
      await Promise.all([reload(), proposed(sheet)]);
      // Focus on the new version where it is listed (here, or in the console's own list); else where the next
      // proposal starts.
      focusAfterRedraw(document.querySelector(`li.sheet[data-sheet-id="${sheet.id}"]`) ?? lines[0].payee);
    } catch (err) {
      showError(err);  // the server's reason, e.g. the same payee twice in one role
    }
  });

  startOver();
  const element = section("propose-title", "Propose a split sheet",
    h("p", { class: "muted small", text: intro || "Who is paid what share of each sale of a track. The artist accepts the proposal, then finance approves it; only then can the track be sold." }),
    noPayeesNote, form, versions);
  const refreshPayees = () => {
    lines.forEach((line) => payeeOptions(line.payee));
    noPayeesNote.hidden = payees().length > 0;
  };
  refreshPayees();
  return {
    element,
    reload,
    refreshPayees,
    refreshTracks: () => {
      if (menu.refresh()) reload().catch(showError);
    },
  };
}

/**
 * Prices per track and product: the track's current prices and whether fans can buy it yet, and a form that
 * creates or changes one product (its form starts from the current price). Returns {element, reload}.
 */
export function pricesPanel(tracks) {
  const menu = trackMenu(tracks);
  const track = menu.select;
  const current = h("div", {});
  const product = h("input", { type: "text", name: "product", value: DEFAULT_PRODUCT, required: true, maxlength: 32,
    pattern: "[a-z0-9_\\-]+", autocapitalize: "none", spellcheck: "false", autocomplete: "off" });
  const price = h("input", { type: "text", name: "price", inputmode: "decimal", required: true, autocomplete: "off" });
  const currency = h("input", { type: "text", name: "currency", value: "EUR", required: true, minlength: 3, maxlength: 3,
    pattern: "[A-Za-z]{3}", autocapitalize: "characters", autocomplete: "off" });
  const days = h("input", { type: "number", name: "licence_days", min: 1, max: 36500, step: 1, inputmode: "numeric" });
  const terms = h("textarea", { name: "terms", rows: 2, maxlength: 5000 });
  const active = h("input", { type: "checkbox", name: "active", checked: true });
  const form = h("form", { class: "inline-form", "aria-label": "Set a price" },
    h("h3", { text: "Set a price" }),
    h("div", { class: "row" },
      field("Product", product, "Lowercase code; fans buy “full_length”, the licensed long version of their remix."),
      field("Price", price, "In the currency's main unit, e.g. 9.99 EUR or 1200 JPY."),
      field("Currency (ISO code)", currency)),
    h("div", { class: "row" },
      field("Licence days (empty: perpetual)", days),
      field("Licence terms (empty: the standard personal-use terms)", terms)),
    h("label", { class: "check" }, active, " On sale (fans see it)"),
    h("div", { class: "actions" }, submitButton("Save price")));
  let products = [];

  const trackOf = menu.chosen;

  /** Put a product's current settings in the form, so that saving changes only what was edited. */
  function fillFrom(code) {
    const found = products.find((p) => p.product === code);
    if (!found) return;
    price.value = minorToPrice(found.price_minor, found.currency);
    currency.value = found.currency;
    days.value = found.licence_days ?? "";
    terms.value = found.terms;
    active.checked = found.active;
  }

  async function reload() {
    const chosen = trackOf();
    if (!chosen) {
      replaceChildren(current, h("p", { class: "empty-note", text: "There are no tracks yet." }));
      return;
    }
    const [list, sheets] = await Promise.all([getJson(`/api/tracks/${chosen.id}/products`),
      getJson(`/api/tracks/${chosen.id}/split-sheets`)]);
    products = list;
    const approved = sheets.filter((s) => s.status === "approved").sort((a, b) => b.version - a.version)[0];
    const saleState = approved
      ? h("p", { class: "sale-state open", text: `Sales open under split sheet v${approved.version}: fans can buy what is priced here while the artist's sell_extended consent lasts.` })
      : h("p", { class: "sale-state closed", text: "Not for sale yet: fans can buy once a split sheet of this track is approved." });
    const table = products.length === 0
      ? h("p", { class: "empty-note", text: `“${chosen.title}” has no price yet.` })
      : h("div", { class: "table-scroll" }, h("table", {},
        h("caption", { text: `Prices of ${chosen.title}` }),
        h("thead", {}, h("tr", {}, ["Product", "Price", "Licence"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, products.map((p) => h("tr", { dataset: { product: p.product } },
          h("th", { scope: "row", text: p.product }),
          h("td", { class: "num", text: formatMoney(p.price_minor, p.currency) }),
          h("td", { text: p.licence_days ? `${p.licence_days} days` : "perpetual" }))))));
    replaceChildren(current, table, saleState);
    fillFrom(product.value.trim());
  }

  track.addEventListener("change", () => {
    price.value = "";
    days.value = "";
    terms.value = "";
    active.checked = true;
    reload().catch(showError);
  });
  product.addEventListener("change", () => fillFrom(product.value.trim()));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = trackOf();
    if (!chosen) {
      showStatus("There is no track to price yet.", "error");
      return;
    }
    const code = currency.value.trim().toUpperCase();
    let minor;
    try {
      minor = priceToMinor(price.value, code);
    } catch (err) {
      showStatus(err.message, "error");
      price.focus();
      return;
    }
    const body = { price_minor: minor, currency: code, licence_days: days.value ? Number(days.value) : null,
      active: active.checked };
    if (terms.value.trim()) body.terms = terms.value.trim();
    try {
      const saved = await whileBusy(form, () => apiJson("PUT",
        `/api/tracks/${chosen.id}/products/${encodeURIComponent(product.value.trim())}`, body));
      showStatus(`“${chosen.title}” ${saved.product} now costs ${formatMoney(saved.price_minor, saved.currency)}`
        + `${saved.active ? "" : " (not on sale)"}.`, "ok");
      await reload();
    } catch (err) {
      showError(err);
    }
  });

  const element = section("prices-title", "Prices",
    h("p", { class: "muted small", text: "What fans pay for each track, and the licence they get." }),
    field("Track", track), current, form);
  return {
    element,
    reload,
    refreshTracks: () => {
      if (menu.refresh()) reload().catch(showError);
    },
  };
}
