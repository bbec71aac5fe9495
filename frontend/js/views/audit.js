// Admins check that the audit log's hash chain is intact.
import { getJson } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { showError, showStatus } from "../status.js";

export function renderAudit(container) {
  const result = h("div", { class: "audit-result" });
  const button = h("button", { type: "button", class: "primary", text: "Verify the audit chain" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    showStatus("Checking every audit event…", "info");
    try {
      const report = await getJson("/api/audit/verify");
      replaceChildren(result, h("p", { class: `verdict ${report.ok ? "ok" : "tampered"}` },
        h("strong", { text: report.ok ? "Intact" : "Tampered" }),
        report.ok
          ? ` — all ${report.events_checked} events chain correctly.`
          : ` — event ${report.first_bad_event_id}: ${report.problem} (${report.events_checked} checked).`));
      showStatus(report.ok ? "Audit chain intact." : "The audit chain has been altered.", report.ok ? "ok" : "error");
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
      button.focus();
    }
  });
  container.append(
    h("h1", { text: "Audit log" }),
    h("p", { class: "lede", text: "Every consent, upload and account change is recorded in a hash chain. Verifying recomputes it and names the first altered or missing event." }),
    h("div", { class: "card" }, button, result),
  );
}
