"""Stripe webhooks: verify, store once by event id, and apply — exactly once, in any delivery order.

Delivery contract (what the endpoint answers):
- bad or missing signature, a timestamp older than the tolerance, or a body that is not a JSON event
  → 400, nothing stored, nothing posted (Stripe retries; a forged request gets nowhere);
- a verified event seen before (same id) → 200 ``duplicate``, nothing changes;
- a verified event of a type we do not act on, or about a payment that is not one of our orders
  → stored as ``ignored`` and 200, so the provider stops retrying;
- a refund or dispute of an order whose payment has not been confirmed yet → stored as ``deferred``
  and 200; it is applied right after the payment's own event arrives (deliveries may be reordered);
- otherwise the event is applied in the same database transaction that stores it, so a crash before
  commit leaves no trace and the provider's redelivery applies it once.

Each fact is also keyed by its own object (``sale:pi_…``, ``refund:re_…``, ``dispute_opened:dp_…``),
so the same refund reported by two different events (``refund.created`` and ``charge.refunded``) posts once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import update
from sqlalchemy.orm import Session

from remix.commerce import fulfilment, ledger, repository
from remix.commerce.models import EventStatus, Order, OrderStatus, ProviderEvent, TransactionKind
from remix.config import Settings
from remix.db import utcnow
from remix.errors import BadRequest

RENDER_ON_PAYMENT = "remix.commerce.render_on_payment"


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    status: str  # processed | deferred | ignored | duplicate
    note: str = ""


def verify(payload: bytes, signature: str | None, secret: str, tolerance: int) -> dict[str, Any]:
    """The verified event as a dict, or :class:`BadRequest` saying why it was rejected."""
    if not signature:
        raise BadRequest("missing Stripe-Signature header")
    try:
        # Stripe's own check of the signature over the raw body (what ``stripe.Webhook.construct_event``
        # does first), without building the StripeObject it then returns: we read the event as JSON anyway,
        # and building that object took about a tenth of a webhook request's CPU.
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise BadRequest(f"webhook signature rejected: {exc.user_message or exc}") from exc
    except UnicodeDecodeError as exc:  # verify_header decodes the body as UTF-8 before checking anything
        raise BadRequest("webhook body is not a JSON event") from exc
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise BadRequest("webhook body is not a JSON event") from exc
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("data"), dict)
        or not isinstance(event["data"].get("object"), dict)
    ):
        raise BadRequest("webhook event needs string 'id' and 'type' and an object in 'data.object'")
    return event


def _payment_intent_of(event_type: str, obj: dict[str, Any]) -> str | None:
    value = obj.get("id") if event_type.startswith("payment_intent.") else obj.get("payment_intent")
    return value if isinstance(value, str) else None


def _when(event: dict[str, Any]) -> datetime:
    """When the event happened by Stripe's clock (``created``, Unix seconds); the time of receipt when it is
    missing or not a time this platform can represent (e.g. milliseconds by mistake): never a 500 on retry."""
    created = event.get("created")
    if isinstance(created, int) and created > 0:
        try:
            return datetime.fromtimestamp(created, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return utcnow()


def receive(session: Session, settings: Settings, event: dict[str, Any], *,
            render_on_payment: bool = True) -> WebhookOutcome:
    """Store the verified ``event`` once and apply it: a batch of one (see :func:`receive_batch`)."""
    return receive_batch(session, settings, [event], render_on_payment=render_on_payment)[0]


SALE_TYPES = ("payment_intent.succeeded", "checkout.session.completed")


def _stored_row(event: dict[str, Any]) -> dict[str, Any]:
    created = event.get("created") if isinstance(event.get("created"), int) else 0
    now = utcnow()
    return {"id": event["id"], "type": event["type"],
            "payment_intent_id": _payment_intent_of(event["type"], event["data"]["object"]),
            "created": created, "payload": json.dumps(event, separators=(",", ":")),
            "status": EventStatus.processed.value, "note": "", "received_at": now, "processed_at": now}


def receive_batch(session: Session, settings: Settings, events: list[dict[str, Any]], *,
                  render_on_payment: bool = True) -> list[WebhookOutcome]:
    """Store each verified event once and apply it, all in the caller's transaction; one outcome per event.

    Set-based, so a batch costs a fixed number of statements plus a few per event: one INSERT of all the
    events (the ids already stored, or repeated within the batch, are ``duplicate``), one row lock of every
    order they are about (in id order, so concurrent batches never deadlock on them), then every payment
    posted together (:func:`fulfilment.record_payments`). Refunds, disputes and failures — rare next to
    sales — are applied one by one after the payments, in the batch's order, exactly as a lone delivery
    would apply them (so a refund batched with its own payment posts rather than waits).
    """
    session.info[RENDER_ON_PAYMENT] = render_on_payment
    first_copy: dict[str, int] = {}
    for index, event in enumerate(events):
        first_copy.setdefault(event["id"], index)
    new = repository.insert_new_events(session, [_stored_row(events[i]) for i in first_copy.values()])
    fresh = [events[i] for event_id, i in first_copy.items() if event_id in new]
    orders = repository.lock_orders_for_payment_intents(
        session, (pi for e in fresh if (pi := _payment_intent_of(e["type"], e["data"]["object"])) is not None))
    results = _apply_sales(session, settings, [e for e in fresh if e["type"] in SALE_TYPES], orders)
    for event in fresh:
        if event["id"] not in results:
            results[event["id"]] = _apply(session, settings, event)
    for event_id, (status, note) in results.items():
        if status != EventStatus.processed or note:  # rows were inserted as processed: most need no update
            _set_status(session, event_id, status, note)
    return [
        WebhookOutcome(event["id"], results[event["id"]][0].value, results[event["id"]][1])
        if first_copy[event["id"]] == index and event["id"] in new else WebhookOutcome(event["id"], "duplicate")
        for index, event in enumerate(events)
    ]


def _sale_refused(event: dict[str, Any], order: repository.PayableOrder | None) -> str | None:
    """Why a payment event posts nothing (stored as ``ignored`` with this note), or None if it may post."""
    obj: dict[str, Any] = event["data"]["object"]
    if event["type"] == "checkout.session.completed" and obj.get("payment_status") != "paid":
        return "checkout session is not paid"
    if event["type"] == "payment_intent.succeeded" and obj.get("status") not in (None, "succeeded"):
        return f"payment intent status is {obj.get('status')}"
    if order is None:
        return "no order for this payment"
    amount = _amount(obj, "amount_total" if event["type"] == "checkout.session.completed" else "amount")
    if amount != order.amount_minor or not _currency_matches(order, obj):
        return (f"paid {amount} {obj.get('currency')} does not match the order's "
                f"{order.amount_minor} {order.currency}; nothing posted")
    return None


def _apply_sales(session: Session, settings: Settings, events: list[dict[str, Any]],
                 orders: dict[str, repository.PayableOrder]) -> dict[str, tuple[EventStatus, str]]:
    """Apply payment events (their orders already row-locked): each order is paid once, by the first event
    that confirms it; a later one (another event about the same payment) is processed and changes nothing.
    Then the refunds and disputes that arrived before these payments are applied, in the provider's order."""
    results: dict[str, tuple[EventStatus, str]] = {}
    sales: list[ledger.Sale] = []
    paying: set[int] = set()
    for event in events:
        pi = _payment_intent_of(event["type"], event["data"]["object"])
        order = orders.get(pi) if pi is not None else None
        refused = _sale_refused(event, order)
        if refused is not None:
            results[event["id"]] = (EventStatus.ignored, refused)
            continue
        assert order is not None
        results[event["id"]] = (EventStatus.processed, "")
        if order.status != OrderStatus.paid and order.id not in paying:
            paying.add(order.id)
            sales.append(ledger.Sale(order, _when(event), event["id"]))
    fulfilment.record_payments(session, settings, sales,
                               render_on_payment=session.info.get(RENDER_ON_PAYMENT, True))
    waiting = repository.deferred_events_for(
        session, [sale.order.payment_intent_id for sale in sales if sale.order.payment_intent_id])
    for stored in waiting:
        status, note = _apply(session, settings, json.loads(stored.payload))
        _set_status(session, stored.id, status, note)
    return results


def _set_status(session: Session, event_id: str, status: EventStatus, note: str) -> None:
    session.execute(
        update(ProviderEvent).where(ProviderEvent.id == event_id)
        .values(status=status, note=note[:300], processed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _apply(session: Session, settings: Settings, event: dict[str, Any]) -> tuple[EventStatus, str]:
    kind: str = event["type"]
    obj: dict[str, Any] = event["data"]["object"]
    handler = HANDLERS.get(kind)
    if handler is None:
        return EventStatus.ignored, f"event type {kind} is not used"
    return handler(session, settings, event, obj)


def _order(session: Session, payment_intent_id: Any) -> Order | None:
    if not isinstance(payment_intent_id, str):
        return None
    return repository.order_for_payment_intent(session, payment_intent_id, lock=True)


def _amount(obj: dict[str, Any], key: str = "amount") -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _currency_matches(order: Order | repository.PayableOrder, obj: dict[str, Any]) -> bool:
    currency = obj.get("currency")
    return isinstance(currency, str) and currency.upper() == order.currency


def _on_payment_failed(session: Session, settings: Settings, event: dict[str, Any],
                       obj: dict[str, Any]) -> tuple[EventStatus, str]:
    order = _order(session, obj.get("id"))
    if order is None:
        return EventStatus.ignored, "no order for this payment"
    if order.status == OrderStatus.pending:  # a failure reported after success changes nothing
        order.status = OrderStatus.failed
        session.flush()
    return EventStatus.processed, ""


def _deferred_or_order(session: Session, obj: dict[str, Any]) -> Order | tuple[EventStatus, str]:
    order = _order(session, obj.get("payment_intent"))
    if order is None:
        return EventStatus.ignored, "no order for this payment"
    if order.status != OrderStatus.paid:
        return EventStatus.deferred, "waiting for the payment's own event"
    if not _currency_matches(order, obj):
        return EventStatus.ignored, f"currency {obj.get('currency')} is not the order's {order.currency}"
    return order


def _post(session: Session, order: Order, kind: TransactionKind, ref: str, amount: int,
          event: dict[str, Any]) -> tuple[EventStatus, str]:
    try:
        facts = ledger.post(session, order, kind, ref, amount, occurred_at=_when(event),
                            provider_event_id=event["id"])
    except ledger.PostingRefused as exc:
        return EventStatus.ignored, exc.detail
    if facts is not None:
        fulfilment.after_posting(session, order, kind, ref, amount, facts)
    return EventStatus.processed, "" if facts is not None else "already posted"


def _refunds_in(event: dict[str, Any], obj: dict[str, Any]) -> list[dict[str, Any]]:
    if event["type"] == "charge.refunded":
        listed = obj.get("refunds")
        data = listed.get("data") if isinstance(listed, dict) else None
        refunds = [r for r in data or [] if isinstance(r, dict)]
        for refund in refunds:  # refunds listed on a charge may omit the payment intent
            refund.setdefault("payment_intent", obj.get("payment_intent"))
        return refunds
    return [obj]


def _on_refund(session: Session, settings: Settings, event: dict[str, Any],
               obj: dict[str, Any]) -> tuple[EventStatus, str]:
    refunds = _refunds_in(event, obj)
    if not refunds:
        return EventStatus.ignored, "no refund objects listed"
    outcome: tuple[EventStatus, str] = (EventStatus.ignored, "")
    for refund in refunds:
        if refund.get("status") not in ("succeeded", None) or not isinstance(refund.get("id"), str):
            outcome = (EventStatus.ignored, f"refund status {refund.get('status')} is not final")
            continue
        amount = _amount(refund)
        if amount is None:
            return EventStatus.ignored, "refund without a positive integer amount"
        target = _deferred_or_order(session, refund)
        if not isinstance(target, Order):
            return target
        outcome = _post(session, target, TransactionKind.refund, refund["id"], amount, event)
    return outcome


def _on_dispute_created(session: Session, settings: Settings, event: dict[str, Any],
                        obj: dict[str, Any]) -> tuple[EventStatus, str]:
    amount = _amount(obj)
    if amount is None or not isinstance(obj.get("id"), str):
        return EventStatus.ignored, "dispute without an id or a positive integer amount"
    target = _deferred_or_order(session, obj)
    if not isinstance(target, Order):
        return target
    return _post(session, target, TransactionKind.dispute_opened, obj["id"], amount, event)


def _on_dispute_closed(session: Session, settings: Settings, event: dict[str, Any],
                       obj: dict[str, Any]) -> tuple[EventStatus, str]:
    outcome = {"won": TransactionKind.dispute_won, "lost": TransactionKind.dispute_lost}.get(str(obj.get("status")))
    if outcome is None:
        return EventStatus.ignored, f"dispute closed as {obj.get('status')}; no money moved"
    status, note = _on_dispute_created(session, settings, event, obj)  # the opening, if it came late
    if status != EventStatus.processed:
        return status, note
    target = _deferred_or_order(session, obj)
    assert isinstance(target, Order)
    amount = _amount(obj)
    assert amount is not None
    if repository.transaction_exists(session, ledger.source_key(
            TransactionKind.dispute_lost if outcome == TransactionKind.dispute_won else TransactionKind.dispute_won,
            obj["id"])):
        return EventStatus.ignored, "this dispute was already closed with the other outcome"
    return _post(session, target, outcome, obj["id"], amount, event)


Handler = Any
# Every event type but the sales (SALE_TYPES), which receive_batch applies set-based through _apply_sales and
# which are never stored as deferred, so _apply never sees one.
HANDLERS: dict[str, Handler] = {
    "payment_intent.payment_failed": _on_payment_failed,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "charge.refund.updated": _on_refund,
    "charge.refunded": _on_refund,
    "charge.dispute.created": _on_dispute_created,
    "charge.dispute.closed": _on_dispute_closed,
}
