"""The one place that talks to Stripe (or a localstripe server standing in for it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe

from remix.commerce.config import CommerceSettings
from remix.errors import RemixError

logger = logging.getLogger(__name__)


class PaymentProviderUnavailable(RemixError):
    """The payment provider could not be reached or refused the request; nothing was charged. Try again."""

    status_code = 502


@dataclass(frozen=True)
class PaymentAttempt:
    payment_intent_id: str
    status: str
    client_secret: str | None
    error: str | None = None


def _unavailable(action: str, exc: stripe.StripeError) -> PaymentProviderUnavailable:
    """The refusal a fan or finance reads: Stripe's message meant for people, or its API refusal — never the
    HTTP library's trace that ``str(exc)`` holds for a network failure (that goes to the log instead)."""
    logger.warning("Stripe call failed: %s: %s", action, exc)
    if isinstance(exc, stripe.APIConnectionError):  # its message is the network library's
        reason = "Stripe could not be reached"
    else:  # an API refusal: Stripe's own sentence (e.g. "charge ... has already been refunded")
        reason = exc.user_message or str(exc)
    return PaymentProviderUnavailable(f"{action}: {reason}")


class StripeGateway:
    """Creates PaymentIntents and refunds with deterministic idempotency keys."""

    def __init__(self, settings: CommerceSettings) -> None:
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self.client = stripe.StripeClient(settings.stripe_api_key, base_addresses=base,  # type: ignore[arg-type]
                                          max_network_retries=2)

    def create_payment_intent(self, *, order_public_id: str, amount_minor: int, currency: str,
                              payment_method: str | None) -> PaymentAttempt:
        """Create (once per order, whatever the retries) the order's PaymentIntent; confirm it when the
        client already has a payment method (otherwise the browser confirms with the client secret)."""
        params: dict[str, object] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "metadata": {"remix_order": order_public_id},
            "payment_method_types": ["card"],
        }
        if payment_method:
            params["payment_method"] = payment_method
        try:
            intent = self.client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"remix-order-{order_public_id}-intent"},
            )
        except stripe.StripeError as exc:
            raise _unavailable("could not create the payment", exc) from exc
        if not payment_method:
            return PaymentAttempt(intent.id, intent.status, intent.client_secret)
        try:
            intent = self.client.v1.payment_intents.confirm(
                intent.id, options={"idempotency_key": f"remix-order-{order_public_id}-confirm"}
            )
        except stripe.CardError as exc:
            return PaymentAttempt(intent.id, "requires_payment_method", intent.client_secret,
                                  exc.user_message or "the card was declined")
        except stripe.StripeError as exc:
            raise _unavailable("could not confirm the payment", exc) from exc
        return PaymentAttempt(intent.id, intent.status, intent.client_secret)

    def refund(self, *, payment_intent_id: str, amount_minor: int | None, idempotency_key: str) -> str:
        """Ask the provider to refund; the ledger posts when its ``refund.*`` webhook arrives."""
        params: dict[str, object] = {"payment_intent": payment_intent_id}
        if amount_minor is not None:
            params["amount"] = amount_minor
        try:
            refund = self.client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise _unavailable("could not refund", exc) from exc
        return refund.id
