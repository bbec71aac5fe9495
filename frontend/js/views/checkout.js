// Buying the licensed long version of a saved remix. The order is paid only when Stripe's signed webhook
// reaches the server, so after paying the page waits for the order to turn "paid".
//
// With a publishable key configured the card is taken by Stripe's own Payment Element (Stripe.js must be
// loaded from js.stripe.com, the one script not served by this app). Without one — the offline demo and the
// tests, talking to localstripe — a clearly labelled test-mode button pays with Stripe's test card.
import { apiBlob, getJson, postJson } from "../api.js";
import { fileNameFrom, saveBlob } from "../downloads.js";
import { h, uniqueId } from "../dom.js";
import { ApiError, describeError, untypedError } from "../errors.js";
import { navigate } from "../router.js";
import { formatMoney } from "../money.js";
import { showError, showStatus } from "../status.js";

const TEST_CARD = "pm_card_visa";
const PAID_WAIT_MS = 30_000;

let stripeScript = null;

function loadStripe() {
  stripeScript ??= new Promise((resolve, reject) => {
    const script = h("script", { src: "https://js.stripe.com/v3/" });
    script.addEventListener("load", () => resolve(window.Stripe));
    script.addEventListener("error", () => reject(new Error("Stripe.js could not be loaded")));
    document.head.append(script);
  });
  return stripeScript;
}

export async function buyDialog(track, product, snapshot) {
  let config;
  try {
    config = await getJson("/api/commerce/payment-config");
  } catch (err) {
    showError(err);
    return;
  }
  const titleId = uniqueId("buy-title");
  const price = formatMoney(product.price_minor, product.currency);
  const body = h("div", { class: "checkout-body" });
  const cancel = h("button", { type: "button", class: "secondary", text: "Cancel" });
  // The modal dialog covers the page's status area (and makes it inert for screen readers), so how the
  // payment goes is said inside the dialog as well.
  const notice = h("p", { class: "dialog-notice", role: "status" });
  const say = (text, tone) => {
    notice.textContent = text;
    notice.dataset.tone = tone;
    showStatus(text, tone);
  };
  const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId },
    h("h2", { id: titleId, text: `Buy “${snapshot.title || track.title}”` }),
    h("p", {}, `The licensed long version of this remix for ${price}. `,
      product.licence_days ? `Licence: ${product.licence_days} days. ` : "Licence: perpetual. ", product.terms),
    body, notice, h("div", { class: "actions" }, cancel));
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  const order = { track_id: track.id, product: product.product, spec: snapshot.spec };
  // One key per purchase attempt: a double press or a retried request cannot place two orders.
  const idempotencyKey = crypto.randomUUID();
  if (config.publishable_key) {
    await cardWithPaymentElement(config, body, order, idempotencyKey, price, dialog, say);
  } else {
    testModePurchase(body, order, idempotencyKey, price, dialog, say);
  }
}

function testModePurchase(body, order, idempotencyKey, price, dialog, say) {
  const pay = h("button", { type: "button", class: "primary", text: `Pay ${price} with the test card` });
  body.append(
    h("p", { class: "test-mode", role: "note" }, h("strong", { text: "Test mode — no real money moves. " }),
      "No Stripe publishable key is configured, so this pays with Stripe's test Visa card (", h("code", { text: TEST_CARD }), ")."),
    h("div", { class: "actions" }, pay));
  pay.addEventListener("click", async () => {
    pay.disabled = true;
    try {
      const placed = await placeOrder({ ...order, payment_method: TEST_CARD }, idempotencyKey);
      if (placed.payment?.error) throw new ApiError("PaymentDeclined", placed.payment.error, 402);
      await waitUntilPaid(placed.order.public_id, dialog, say);
    } catch (err) {
      say(describeError(err), "error");
      pay.disabled = false;
    }
  });
}

async function cardWithPaymentElement(config, body, order, idempotencyKey, price, dialog, say) {
  const mount = h("div", { class: "payment-element" });
  const pay = h("button", { type: "button", class: "primary", text: `Pay ${price}`, disabled: true });
  body.append(mount, h("div", { class: "actions" }, pay));
  try {
    const placed = await placeOrder(order, idempotencyKey);
    const Stripe = await loadStripe();
    const stripe = Stripe(config.publishable_key);
    const elements = stripe.elements({ clientSecret: placed.payment.client_secret });
    elements.create("payment").mount(mount);
    pay.disabled = false;
    pay.addEventListener("click", async () => {
      pay.disabled = true;
      const result = await stripe.confirmPayment({ elements, redirect: "if_required" });
      if (result.error) {
        say(`Payment not taken: ${result.error.message}`, "error");
        pay.disabled = false;
        return;
      }
      try {
        await waitUntilPaid(placed.order.public_id, dialog, say);
      } catch (err) {
        say(describeError(err), "error");
        pay.disabled = false;
      }
    });
  } catch (err) {
    say(describeError(err), "error");
  }
}

async function placeOrder(order, idempotencyKey) {
  // postJson cannot set headers; the Idempotency-Key matters here, so this call is spelled out.
  const response = await fetch("/api/orders", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": idempotencyKey },
    body: JSON.stringify(order),
  });
  if (!response.ok) {
    const failure = await response.json().catch(() => ({}));
    if (typeof failure.error !== "string") throw untypedError(response.status, response.headers.get("X-Request-ID"));
    throw new ApiError(failure.error, failure.detail || "", response.status);
  }
  return response.json();
}

async function waitUntilPaid(publicId, dialog, say) {
  say("Payment sent; waiting for Stripe to confirm it…", "info");
  const deadline = Date.now() + PAID_WAIT_MS;
  while (Date.now() < deadline) {
    const order = await getJson(`/api/orders/${publicId}`);
    if (order.status === "paid") {
      dialog.close();
      navigate("#/purchases", { text: `Paid. Licence ${order.licence_number} is yours; download it below.`, tone: "ok" });
      return;
    }
    if (order.status === "failed") throw new ApiError("PaymentDeclined", "the payment failed; no money was taken", 402);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  dialog.close();
  navigate("#/purchases", { text: "Stripe has not confirmed the payment yet; it appears here once it does.", tone: "info" });
}

/**
 * Exported for the purchases page: a short-lived signed link, fetched at once. Fetched rather than followed:
 * the server renders and stamps the file first (seconds), and a refusal must show here, not replace the app
 * with the API's JSON. Resolves to the saved file's name.
 */
export async function downloadPurchase(publicId) {
  const { url } = await postJson(`/api/orders/${publicId}/download-url`);
  const { blob, response } = await apiBlob("GET", url);
  const name = fileNameFrom(response.headers.get("Content-Disposition")) || `remix-${publicId}.wav`;
  saveBlob(blob, name);
  return name;
}
