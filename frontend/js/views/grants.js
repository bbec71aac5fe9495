// Consent grants of one album: what is granted, until when, whether it is live; grant and revoke.
import { postJson } from "../api.js";
import { formatWhen, localInputToIso } from "../dates.js";
import { field, focusAfterRedraw, h, uniqueId } from "../dom.js";
import { submitButton, whileBusy } from "../forms.js";
import { showError, showStatus } from "../status.js";

export const SCOPES = [
  { value: "remix_preview", label: "Remix preview", help: "Fans see the artwork and hear remix previews." },
  { value: "download_clip", label: "Download clip", help: "Fans download free clips of up to 30 seconds." },
  { value: "sell_extended", label: "Sell extended", help: "Fans buy longer licensed versions." },
  { value: "train_visual", label: "Train visuals", help: "Visual models may be trained on this artwork." },
];

export function scopeLabel(value) {
  return SCOPES.find((s) => s.value === value)?.label ?? value;
}

/** "Live", "Revoked" or "Expired": what a grant means right now. */
export function grantState(grant) {
  if (grant.revoked_at) return "Revoked";
  if (grant.live) return "Live";
  return grant.expires_at && new Date(grant.expires_at) <= new Date() ? "Expired" : "Not live";
}

/**
 * The grants table. `assetName(id)` names an asset; `revoked()` is called after a revocation; `usedBy(grant)`
 * (optional) says what relies on a grant — the models trained and the licences sold under it.
 */
export function grantsTable(grants, assetName, revoked, usedBy = () => "—") {
  if (grants.length === 0) return h("p", { class: "empty-note", text: "Nothing granted yet: no use of this album is allowed." });
  const rows = [...grants].sort((a, b) => b.id - a.id).map((grant) => {
    const state = grantState(grant);
    const target = grant.album_id !== null ? "Whole album" : assetName(grant.asset_id);
    const revokeButton = state === "Revoked" ? null : h("button", {
      type: "button", class: "danger small", text: "Revoke",
      "aria-label": `Revoke ${scopeLabel(grant.scope)} on ${target}`,
      onClick: () => confirmRevoke(grant, target, revoked),
    });
    return h("tr", { dataset: { grantId: grant.id, state: state.toLowerCase() } },
      h("th", { scope: "row", text: scopeLabel(grant.scope) }),
      h("td", { text: target }),
      h("td", { text: formatWhen(grant.granted_at) }),
      h("td", { text: grant.expires_at ? formatWhen(grant.expires_at) : "Until revoked" }),
      h("td", {}, grant.revoked_at ? [formatWhen(grant.revoked_at), grant.revocation_reason ? h("span", { class: "reason", text: ` — “${grant.revocation_reason}”` }) : null] : "—"),
      h("td", {}, h("span", { class: `badge ${state.toLowerCase().replace(" ", "-")}`, text: state })),
      h("td", { class: "used-by" }, usedBy(grant)),
      h("td", {}, revokeButton));
  });
  return h("div", { class: "table-scroll" }, h("table", { class: "grants" },
    h("caption", { text: "Consent grants" }),
    h("thead", {}, h("tr", {}, ["Scope", "Covers", "Granted", "Expires", "Revoked", "State", "Used by", h("span", { class: "visually-hidden", text: "Actions" })]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}

/** Ask for a reason in a modal dialog, then revoke. Resolves when done (or cancelled). */
function confirmRevoke(grant, target, revoked) {
  const reasonId = uniqueId("reason");
  const reason = h("textarea", { id: reasonId, name: "reason", rows: 3, maxlength: 2000 });
  const titleId = uniqueId("dialog-title");
  const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId },
    h("form", { method: "dialog" },
      h("h2", { id: titleId, text: "Revoke consent?" }),
      h("p", {}, `“${scopeLabel(grant.scope)}” on ${target} stops covering any use at once. `,
        "This cannot be undone; you can grant again later."),
      field("Reason (kept in the audit log)", reason),
      h("div", { class: "actions" },
        h("button", { type: "submit", value: "cancel", class: "secondary", text: "Cancel" }),
        h("button", { type: "submit", value: "revoke", class: "danger", text: "Revoke grant" }))));
  document.body.append(dialog);
  dialog.addEventListener("close", async () => {
    const confirmed = dialog.returnValue === "revoke";
    dialog.remove();
    if (!confirmed) return;
    try {
      await postJson(`/api/consent/grants/${grant.id}/revoke`, { reason: reason.value.trim() });
      showStatus(`Revoked “${scopeLabel(grant.scope)}” on ${target}.`, "ok");
      await revoked();
      // The dialog hands focus back to its Revoke button, which the redrawn table no longer has (focus would
      // fall to the top of the page): keep keyboard users on the grant's row.
      focusAfterRedraw(document.querySelector(`tr[data-grant-id="${grant.id}"] th`));
    } catch (err) {
      showError(err);
    }
  });
  dialog.showModal();
  reason.focus();
}

/**
 * The form granting a scope on the album or one asset. `targets()` lists [{value, label}] with
 * values "album:<id>" or "asset:<id>"; `granted()` is called after a grant.
 */
export function grantForm(targets, granted) {
  const scope = h("select", { name: "scope", required: true },
    SCOPES.map((s) => h("option", { value: s.value, text: s.label })));
  const explainScope = () => SCOPES.find((s) => s.value === scope.value).help;
  const scopeField = field("Use (scope)", scope, explainScope());
  // The hint under the menu explains whichever scope is chosen (the menu is described by it).
  scope.addEventListener("change", () => { scopeField.querySelector(".hint").textContent = explainScope(); });
  const target = h("select", { name: "target", required: true });
  const expires = h("input", { type: "datetime-local", name: "expires_at" });
  const terms = h("textarea", { name: "terms", rows: 2, maxlength: 5000 });
  const form = h("form", { class: "grant-form", "aria-label": "Grant a use" },
    h("h3", { text: "Grant a use" }),
    h("div", { class: "row" }, scopeField, field("Covers", target)),
    field("Expires (optional, your local time)", expires, "Leave empty to grant until you revoke it."),
    field("Terms (optional)", terms),
    h("div", { class: "actions" }, submitButton("Grant")));
  const refreshTargets = () => {
    const chosen = target.value;
    target.replaceChildren(...targets().map((t) => h("option", { value: t.value, text: t.label })));
    if (chosen && [...target.options].some((o) => o.value === chosen)) target.value = chosen;
  };
  refreshTargets();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const [kind, id] = target.value.split(":");
      const body = {
        scope: scope.value,
        expires_at: localInputToIso(expires.value),
        terms: terms.value.trim(),
        [kind === "album" ? "album_id" : "asset_id"]: Number(id),
      };
      const grant = await whileBusy(form, () => postJson("/api/consent/grants", body));
      showStatus(`Granted “${scopeLabel(grant.scope)}” on ${target.selectedOptions[0].text}.`, "ok");
      expires.value = "";
      terms.value = "";
      await granted(grant);
    } catch (err) {
      showError(err);
    }
  });
  return { element: form, refreshTargets };
}
