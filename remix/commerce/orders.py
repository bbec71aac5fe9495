"""Placing an order: price from the track's product, split sheet version fixed, consent checked, payment created.

Nothing is fulfilled here: the order becomes paid only when the provider's signed webhook says so
(:mod:`remix.commerce.webhooks`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from remix.audio.spec import RemixSpec
from remix.audit import service as audit
from remix.auth.models import User
from remix.catalog import repository as catalog_repository
from remix.catalog.consent import require_use
from remix.catalog.models import Scope, Track
from remix.commerce import ledger, repository
from remix.commerce.gateway import PaymentAttempt, StripeGateway
from remix.commerce.models import Order, OrderStatus, SplitSheet, TrackProduct
from remix.db import utcnow
from remix.errors import BadRequest, Conflict, NotFound, RemixError


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    payment: PaymentAttempt | None


def canonical_spec(spec: dict[str, Any]) -> tuple[str, str]:
    """The spec as the audio engine's canonical JSON and its sha256 (the hash entitlements are keyed on).

    Validating through :class:`RemixSpec` means a bought version unlocks exactly the render the audio
    engine identifies by the same hash, and a spec it would refuse can never be sold.
    """
    if not isinstance(spec, dict) or not spec:
        raise BadRequest("spec must be a non-empty JSON object (a saved RemixSpec)")
    try:
        remix_spec = RemixSpec.model_validate(spec)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise BadRequest(f"spec is not a valid RemixSpec: {problems}") from exc
    return remix_spec.canonical_json(), remix_spec.spec_hash


def stem_ids(track: Track) -> list[int]:
    return [stem.id for stem in track.stems]


def require_sellable(session: Session, track: Track) -> list[int]:
    """The grant ids that allow selling this track now; raises if any stem lacks a live ``sell_extended``."""
    ids = stem_ids(track)
    if not ids:
        raise Conflict(f"track {track.id} has no stems, so there is no licensed version to sell")
    return require_use(session, Scope.sell_extended, ids).grant_ids


@dataclass(frozen=True)
class Offer:
    """A track's active product as a fan meets it: whether it can be bought now and, if not, why."""

    product: TrackProduct
    not_on_sale_because: str | None

    @property
    def on_sale(self) -> bool:
        return self.not_on_sale_because is None


def offers_for_track(session: Session, track_id: int) -> list[Offer]:
    """The track's active products, each judged by :func:`require_sales_open`, the rule :func:`open_order`
    enforces, so a fan is never offered a Buy button that ends in a refusal."""
    track = catalog_repository.get_or_404(session, Track, track_id)
    products = [p for p in repository.products_for_track(session, track_id) if p.active]
    if not products:
        return []
    reason: str | None = None
    try:
        require_sales_open(session, track)
    except RemixError as exc:
        reason = exc.detail
    return [Offer(product, reason) for product in products]


def require_sales_open(session: Session, track: Track) -> SplitSheet:
    """The track's approved split sheet, which a sale is posted under; raises if sales are not open (no accepted
    and approved split sheet) or a stem lacks a live ``sell_extended`` grant."""
    sheet = repository.current_approved_split(session, track.id)
    if sheet is None:
        raise Conflict("sales are not open yet: the track's split sheet is not accepted and approved",
                       facts={"track_id": track.id})
    require_sellable(session, track)
    return sheet


def public_id_for(user_id: int, idempotency_key: str | None) -> str:
    """Random, or derived from the client's Idempotency-Key so a retried request finds the same order."""
    if not idempotency_key:
        return secrets.token_hex(16)
    return hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()[:32]


def open_order(session: Session, user: User, track_id: int, product: str, spec: dict[str, Any],
               public_id: str) -> Order:
    """Validate and record a pending order (without contacting the payment provider)."""
    track = catalog_repository.get_or_404(session, Track, track_id)
    offer = repository.product_for_track(session, track_id, product)
    if offer is None or not offer.active:
        raise NotFound(f"track {track_id} has no product '{product}' for sale")
    sheet = require_sales_open(session, track)
    spec_json, spec_hash = canonical_spec(spec)
    order = Order(public_id=public_id, user_id=user.id, track_id=track_id, product=product, spec_json=spec_json,
                  spec_hash=spec_hash, amount_minor=offer.price_minor, currency=offer.currency,
                  split_sheet_id=sheet.id, licence_days=offer.licence_days, terms=offer.terms,
                  status=OrderStatus.pending, created_at=utcnow())
    session.add(order)
    session.flush()
    audit.record(session, "order.placed", "order", order.public_id, actor_user_id=user.id, track_id=track_id,
                 product=product, amount_minor=order.amount_minor, currency=order.currency,
                 split_sheet_id=sheet.id, spec_hash=spec_hash)
    return order


def place_order(session: Session, gateway: StripeGateway, user: User, track_id: int, product: str,
                spec: dict[str, Any], payment_method: str | None, idempotency_key: str | None) -> PlacedOrder:
    """Open the order and create its PaymentIntent (idempotency key derived from the order's id)."""
    public_id = public_id_for(user.id, idempotency_key)
    existing = repository.order_by_public_id(session, public_id)
    if existing is not None:
        if existing.user_id != user.id:  # pragma: no cover - the id is derived from the user id
            raise Conflict("idempotency key already used")
        return PlacedOrder(existing, None)
    order = open_order(session, user, track_id, product, spec, public_id)
    attempt = gateway.create_payment_intent(order_public_id=order.public_id, amount_minor=order.amount_minor,
                                            currency=order.currency, payment_method=payment_method)
    order.payment_intent_id = attempt.payment_intent_id
    session.flush()
    return PlacedOrder(order, attempt)


def order_of_user(session: Session, user: User, public_id: str) -> Order:
    order = repository.order_by_public_id(session, public_id)
    if order is None or order.user_id != user.id:
        raise NotFound(f"you have no order {public_id}")
    return order


def request_refund(session: Session, gateway: StripeGateway, actor: User, public_id: str,
                   amount_minor: int | None) -> str:
    """Finance asks the provider to refund (all or part of) a paid order; the ledger posts on its webhook."""
    order = repository.order_by_public_id(session, public_id)
    if order is None:
        raise NotFound(f"order {public_id} does not exist")
    if order.status != OrderStatus.paid or order.payment_intent_id is None:
        raise Conflict(f"order {public_id} is {order.status.value}; only paid orders can be refunded")
    facts = ledger.facts_of(session, order)
    remaining = facts.gross - facts.taken_back
    amount = remaining if amount_minor is None else amount_minor
    if amount <= 0 or amount > remaining:
        raise BadRequest(f"order {public_id} has {remaining} {order.currency} minor units left to refund")
    # Same order state + same amount = same key: a retried request cannot refund twice.
    key = f"remix-refund-{order.public_id}-{facts.refunded}-{amount}"
    refund_id = gateway.refund(payment_intent_id=order.payment_intent_id, amount_minor=amount, idempotency_key=key)
    audit.record(session, "refund.requested", "order", order.public_id, actor_user_id=actor.id,
                 amount_minor=amount, currency=order.currency, refund_id=refund_id)
    return refund_id
