// The finance dashboard: split sheets waiting for approval; setting up what is sold (payees, split sheet
// proposals, prices: selling.js); statements per period and payee with CSV export and period lock, revenue
// charts by track and payee, and orders with their refunds and disputes.
import { apiBlob, getJson, postJson } from "../api.js";
import { formatWhen } from "../dates.js";
import { field, focusAfterRedraw, h, replaceChildren } from "../dom.js";
import { fileNameFrom, saveBlob } from "../downloads.js";
import { submitButton, whileBusy } from "../forms.js";
import { formatMoney } from "../money.js";
import { showError, showStatus } from "../status.js";
import { lineChart } from "./chart.js";
import { catalogTracks, payeesPanel, pricesPanel, splitProposalPanel } from "./selling.js";

/** The current period (YYYY-MM) as the ledger counts it: in UTC. */
export function currentPeriod() {
  return new Date().toISOString().slice(0, 7);
}

function card(id, title, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id, text: title }), children);
}

export async function renderFinance(container) {
  container.append(h("h1", { text: "Finance" }),
    h("p", { class: "lede", text: "Royalty splits, statements and the money behind every sale. Amounts come from the append-only ledger." }));
  const [payees, artists, tracks] = await Promise.all([getJson("/api/finance/payees"), getJson("/api/artists"), catalogTracks()]);
  const payeeName = (id) => payees.find((p) => p.id === id)?.name ?? `payee ${id}`;
  const sheets = h("div", {});
  const statement = h("div", {});
  const charts = h("div", {});
  const orders = h("div", {});

  const refreshAll = async () => {
    await Promise.all([drawSheets(), drawStatement(), drawCharts(), drawOrders(), proposal.reload(), prices.reload()]);
  };

  const sheetsHeading = () => document.getElementById("sheets-title");

  async function drawSheets() {
    const waiting = await getJson("/api/finance/split-sheets?status=accepted");
    if (waiting.length === 0) {
      replaceChildren(sheets, h("p", { class: "empty-note", text: "No split sheets are waiting for approval." }));
      return;
    }
    replaceChildren(sheets, h("ul", { class: "sheet-list" }, waiting.map((sheet) => {
      const name = `${sheet.track_title} v${sheet.version}`;
      const approve = h("button", { type: "button", class: "primary small", text: "Approve", "aria-label": `Approve split sheet ${name}` });
      const reject = h("button", { type: "button", class: "secondary small", text: "Reject", "aria-label": `Reject split sheet ${name}` });
      approve.addEventListener("click", async () => {
        approve.disabled = true;
        try {
          await postJson(`/api/split-sheets/${sheet.id}/approve`);
          showStatus(`Split sheet ${name} approved: sales of “${sheet.track_title}” follow it from now on.`, "ok");
          await Promise.all([drawSheets(), proposal.reload(), prices.reload()]);
          focusAfterRedraw(sheetsHeading());  // the approved sheet has left the list, its button with it
        } catch (err) {
          showError(err);
          approve.disabled = false;
        }
      });
      reject.addEventListener("click", async () => {
        const reason = window.prompt(`Why reject split sheet ${name}?`) ?? null;
        if (reason === null) return;
        try {
          await postJson(`/api/split-sheets/${sheet.id}/reject`, { reason });
          showStatus(`Split sheet ${name} rejected.`, "ok");
          await drawSheets();
          focusAfterRedraw(sheetsHeading());
        } catch (err) {
          showError(err);
        }
      });
      return h("li", { class: "sheet", "aria-label": `Split sheet ${name}` },
        h("h3", { text: name }),
        h("p", { class: "muted small", text: `Accepted by the artist ${formatWhen(sheet.accepted_at)}${sheet.note ? ` · ${sheet.note}` : ""}` }),
        splitLines(sheet.lines, payeeName),
        h("div", { class: "actions" }, approve, reject));
    })));
  }

  // Statements: one period, all payees or one, with CSV export and the period lock.
  const period = h("input", { type: "month", name: "period", value: currentPeriod(), required: true });
  const payee = h("select", { name: "payee" });
  const fillPayeeMenu = () => {
    const chosen = payee.value;
    replaceChildren(payee, h("option", { value: "", text: "All payees" }), payees.map((p) => h("option", { value: p.id, text: p.name })));
    payee.value = chosen;
  };
  fillPayeeMenu();
  const exportCsv = h("button", { type: "button", class: "secondary", text: "Export CSV" });
  const lock = h("button", { type: "button", class: "danger", text: "Lock period" });
  const statementForm = h("form", { class: "row-form", "aria-label": "Choose a statement" },
    field("Period", period), field("Payee", payee), h("div", { class: "actions" }, submitButton("Show statement"), exportCsv, lock));
  statementForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await whileBusy(statementForm, drawStatement);
    } catch (err) {
      showError(err);
    }
  });
  exportCsv.addEventListener("click", async () => {
    try {
      // The chosen payee narrows the export as it narrows the table: finance exports what it looks at.
      const { blob, response } = await apiBlob("GET", `/api/finance/statements.csv?${statementQuery()}`);
      const name = fileNameFrom(response.headers.get("Content-Disposition")) || `statement-${period.value}.csv`;
      saveBlob(blob, name);
      showStatus(`Statement exported as ${name}.`, "ok");
    } catch (err) {
      showError(err);
    }
  });
  lock.addEventListener("click", async () => {
    if (!window.confirm(`Lock ${period.value}? Its statements will never change again; later corrections go into the next open period.`)) return;
    try {
      await postJson(`/api/finance/periods/${period.value}/lock`);
      showStatus(`Period ${period.value} is locked.`, "ok");
    } catch (err) {
      showError(err);
    }
  });

  function statementQuery() {
    return `period=${encodeURIComponent(period.value)}${payee.value ? `&payee_id=${payee.value}` : ""}`;
  }

  async function drawStatement() {
    const lines = await getJson(`/api/finance/statements?${statementQuery()}`);
    replaceChildren(statement, statementTable(lines, `Statement ${period.value}`));
  }

  // Revenue charts: by track or by payee, one chart per currency.
  const by = h("select", { name: "by" }, h("option", { value: "track", text: "By track" }), h("option", { value: "payee", text: "By payee" }));
  by.addEventListener("change", () => drawCharts().catch(showError));
  async function drawCharts() {
    const series = await getJson(`/api/finance/revenue?by=${by.value}`);
    if (series.length === 0) {
      replaceChildren(charts, h("p", { class: "empty-note", text: "No sales yet." }));
      return;
    }
    const currencies = [...new Set(series.map((s) => s.currency))];
    replaceChildren(charts, currencies.map((currency) => {
      const lines = series.filter((s) => s.currency === currency);
      const title = `Net revenue ${by.value === "track" ? "by track" : "by payee"} per month, ${currency}`;
      return h("figure", { class: "chart-figure" }, lineChart(title, lines, currency),
        h("figcaption", { class: "muted small" }, title, ". Totals: ",
          lines.map((s) => `${s.label} ${formatMoney(s.total, currency)}`).join("; ")));
    }));
  }

  async function drawOrders() {
    const list = await getJson("/api/finance/orders");
    if (list.length === 0) {
      replaceChildren(orders, h("p", { class: "empty-note", text: "No paid orders yet." }));
      return;
    }
    replaceChildren(orders, h("div", { class: "table-scroll" }, h("table", {},
      h("caption", { text: "Orders" }),
      h("thead", {}, h("tr", {}, ["Order", "Track", "Paid", "Amount", "Refunded", "Disputed", "Licence", h("span", { class: "visually-hidden", text: "Actions" })]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.map((o) => orderRow(o, drawOrders))))));
  }

  // Setting up what is sold; a new payee joins the statement menu and the split sheet lines at once.
  const proposal = splitProposalPanel(() => tracks, () => payees);
  const prices = pricesPanel(() => tracks);
  const payeeSetup = payeesPanel(payees, artists, () => {
    fillPayeeMenu();
    proposal.refreshPayees();
  });

  container.append(
    card("sheets-title", "Split sheets awaiting approval", sheets),
    payeeSetup,
    proposal.element,
    prices.element,
    card("statement-title", "Statements", statementForm, statement),
    card("revenue-title", "Revenue", h("div", { class: "narrow-field" }, field("Show", by)), charts),
    card("orders-title", "Refunds and disputes", orders),
  );
  await refreshAll();
}

export function splitLines(lines, payeeName) {
  return h("table", { class: "split-lines" },
    h("thead", {}, h("tr", {}, ["Payee", "Role", "Share"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, lines.map((line) => h("tr", {},
      h("td", { text: payeeName(line.payee_id) }), h("td", { text: line.role }),
      h("td", { text: `${(line.basis_points / 100).toFixed(2)} %` })))));
}

/** Statement lines as a table (shared with the artist's own statements). */
export function statementTable(lines, caption) {
  if (lines.length === 0) return h("p", { class: "empty-note", text: "Nothing posted up to this period." });
  const money = (line, key) => h("td", { class: "num", text: formatMoney(line[key], line.currency) });
  return h("div", { class: "table-scroll" }, h("table", { class: "statement" },
    h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, ["Payee", "Currency", "Opening", "Sales", "Refunds", "Disputes", "Closing", "Held"]
      .map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, lines.map((line) => h("tr", {},
      h("th", { scope: "row", text: line.payee_name }), h("td", { text: line.currency }),
      money(line, "opening"), money(line, "sales"), money(line, "refunds"), money(line, "disputes"),
      money(line, "closing"), money(line, "held"))))));
}

function orderRow(order, changed) {
  const left = order.amount_minor - order.refunded_minor;
  const refund = order.status === "paid" && left > 0
    ? h("button", { type: "button", class: "secondary small", text: "Refund…", "aria-label": `Refund order ${order.public_id.slice(0, 8)}` })
    : null;
  refund?.addEventListener("click", () => refundDialog(order, left, changed));
  const licence = order.entitlement ?? (order.status === "paid" ? "—" : order.status);
  return h("tr", { dataset: { order: order.public_id } },
    h("th", { scope: "row" }, h("code", { text: order.public_id.slice(0, 8) }), order.needs_refund ? h("span", { class: "badge revoked", text: " needs refund" }) : null),
    h("td", { text: order.track_title }),
    h("td", { text: formatWhen(order.paid_at) }),
    h("td", { class: "num", text: formatMoney(order.amount_minor, order.currency) }),
    h("td", { class: "num", text: order.refunded_minor ? formatMoney(order.refunded_minor, order.currency) : "—" }),
    h("td", { class: "num" }, order.disputed_minor ? formatMoney(order.disputed_minor, order.currency) : "—",
      order.dispute_open ? h("span", { class: "badge not-live", text: " open" }) : null),
    h("td", { text: licence }),
    h("td", {}, refund));
}

function refundDialog(order, left, changed) {
  const amount = h("input", { type: "number", name: "amount", min: 1, max: left, step: 1, inputmode: "numeric" });
  const form = h("form", { method: "dialog" },
    h("h2", { text: `Refund order ${order.public_id.slice(0, 8)}` }),
    h("p", {}, `${formatMoney(left, order.currency)} can still be refunded. A full refund revokes the licence; a partial one keeps it.`),
    field(`Amount in minor units (${order.currency}); empty for the full amount`, amount),
    h("div", { class: "actions" },
      h("button", { type: "submit", value: "cancel", class: "secondary", text: "Cancel" }),
      h("button", { type: "submit", value: "refund", class: "danger", text: "Refund" })));
  const dialog = h("dialog", { class: "confirm", "aria-label": "Refund" }, form);
  document.body.append(dialog);
  dialog.addEventListener("close", async () => {
    const confirmed = dialog.returnValue === "refund";
    dialog.remove();
    if (!confirmed) return;
    try {
      await postJson(`/api/finance/orders/${order.public_id}/refund`, amount.value ? { amount_minor: Number(amount.value) } : {});
      showStatus("Refund requested; the ledger reverses the shares when Stripe confirms it.", "ok");
      await changed();
      // The redrawn table no longer has the Refund button the dialog returns focus to: keep it on the order.
      focusAfterRedraw(document.querySelector(`tr[data-order="${order.public_id}"] th`));
    } catch (err) {
      showError(err);
    }
  });
  dialog.showModal();
}
