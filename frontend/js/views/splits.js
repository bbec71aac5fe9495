// Split sheets of an album's tracks in the artist console: every version, and Accept / Reject for the one
// finance proposed. Finance approves an accepted version before it governs sales.
import { getJson, postJson } from "../api.js";
import { formatWhen } from "../dates.js";
import { focusAfterRedraw, h, replaceChildren } from "../dom.js";
import { showError, showStatus } from "../status.js";

const STATUS_TEXT = {
  proposed: "Waiting for you",
  accepted: "Accepted; waiting for finance",
  approved: "Approved",
  rejected: "Rejected",
};

export function splitSheetsPanel(tracks) {
  const list = h("div", {});
  let shown = [];
  const element = h("section", { class: "card", "aria-labelledby": "splits-title" },
    h("h2", { id: "splits-title", text: "Split sheets" }),
    h("p", { class: "muted small", text: "Who is paid what share of each sale. Accept a proposed version; finance then approves it." }),
    list);

  async function reload() {
    const sheets = (await Promise.all(tracks().map(async (t) => (await getJson(`/api/tracks/${t.id}/split-sheets`))
      .map((sheet) => ({ ...sheet, track_title: t.title }))))).flat();
    shown = sheets;
    if (sheets.length === 0) {
      replaceChildren(list, h("p", { class: "empty-note", text: "No split sheets proposed yet." }));
      return;
    }
    replaceChildren(list, h("ul", { class: "sheet-list" }, sheets.sort((a, b) => b.id - a.id).map((sheet) => {
      const name = `${sheet.track_title} v${sheet.version}`;
      const actions = [];
      if (sheet.status === "proposed") {
        const accept = h("button", { type: "button", class: "primary small", text: "Accept", "aria-label": `Accept split sheet ${name}` });
        accept.addEventListener("click", () => act(`/api/split-sheets/${sheet.id}/accept`, {}, `Split sheet ${name} accepted; finance approves it next.`, sheet));
        const reject = h("button", { type: "button", class: "secondary small", text: "Reject", "aria-label": `Reject split sheet ${name}` });
        reject.addEventListener("click", () => {
          const reason = window.prompt(`Why reject split sheet ${name}?`);
          if (reason !== null) act(`/api/split-sheets/${sheet.id}/reject`, { reason }, `Split sheet ${name} rejected.`, sheet);
        });
        actions.push(accept, reject);
      }
      return h("li", { class: "sheet", "aria-label": `Split sheet ${name}`, dataset: { sheetId: sheet.id } },
        h("h3", {}, name, " ", h("span", { class: `badge sheet-${sheet.status}`, text: STATUS_TEXT[sheet.status] || sheet.status })),
        h("p", { class: "muted small", text: `Proposed ${formatWhen(sheet.created_at)}${sheet.note ? ` · ${sheet.note}` : ""}` }),
        h("ul", { class: "split-shares" }, sheet.lines.map((line) => h("li", { text: `${line.payee_name || `Payee ${line.payee_id}`} (${line.role}): ${(line.basis_points / 100).toFixed(2)} %` }))),
        actions.length ? h("div", { class: "actions" }, actions) : null);
    })));
  }

  async function act(path, body, done, sheet) {
    try {
      await postJson(path, body);
      showStatus(done, "ok");
      await reload();
      focusAfterRedraw(list.querySelector(`li.sheet[data-sheet-id="${sheet.id}"]`));
    } catch (err) {
      showError(err);
    }
  }

  /** The payees named on these sheets: all an artist's account can see of finance's payee list. */
  function payees() {
    const byId = new Map(shown.flatMap((sheet) => sheet.lines).map((line) => [line.payee_id, line.payee_name || `Payee ${line.payee_id}`]));
    return [...byId].map(([id, name]) => ({ id, name }));
  }

  return { element, reload, payees };
}
