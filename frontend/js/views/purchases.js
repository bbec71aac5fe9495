// A fan's purchases: every order, its licence, and a download of the licensed long version while it is valid.
import { getJson } from "../api.js";
import { formatWhen } from "../dates.js";
import { h } from "../dom.js";
import { formatMoney } from "../money.js";
import { showError, showStatus } from "../status.js";
import { downloadPurchase } from "./checkout.js";

const STATE = {
  active: "Licensed",
  suspended: "Suspended (dispute open)",
  revoked: "Revoked (refunded or dispute lost)",
};

export async function renderPurchases(container) {
  container.append(h("h1", { text: "My purchases" }),
    h("p", { class: "lede", text: "Licensed long versions you bought. Download links are made fresh each time and expire after a few minutes." }));
  const orders = await getJson("/api/orders");
  if (orders.length === 0) {
    container.append(h("p", { class: "empty-note", text: "No purchases yet. Save a remix in the studio, then buy its long version." }));
    return;
  }
  const titles = new Map();
  for (const id of new Set(orders.map((o) => o.track_id))) {
    titles.set(id, (await getJson(`/api/tracks/${id}`)).title);
  }
  const rows = [...orders].reverse().map((order) => {
    const state = order.entitlement ? STATE[order.entitlement] : order.status === "pending" ? "Waiting for payment" : "Payment failed";
    const download = order.entitlement === "active"
      ? h("button", { type: "button", class: "primary small", text: "Download", "aria-label": `Download ${titles.get(order.track_id)} (${order.licence_number})` })
      : null;
    download?.addEventListener("click", async () => {
      download.disabled = true;
      try {
        showStatus("Preparing your download: the server renders and watermarks your licensed copy…", "info");
        const name = await downloadPurchase(order.public_id);
        showStatus(`Your licensed copy is saved as ${name}.`, "ok");
      } catch (err) {
        showError(err);
      } finally {
        download.disabled = false;
      }
    });
    return h("tr", {},
      h("th", { scope: "row", text: titles.get(order.track_id) }),
      h("td", { text: formatMoney(order.amount_minor, order.currency) }),
      h("td", { text: formatWhen(order.paid_at || order.created_at) }),
      h("td", { text: order.licence_number || "—" }),
      h("td", { text: state }),
      h("td", {}, download));
  });
  container.append(h("div", { class: "table-scroll card" }, h("table", {},
    h("caption", { text: "Purchases" }),
    h("thead", {}, h("tr", {}, ["Track", "Price", "When", "Licence", "State", h("span", { class: "visually-hidden", text: "Actions" })]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows))));
}
