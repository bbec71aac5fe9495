"""What a confirmed payment, refund or dispute does to the order, its entitlement and its licence.

Entitlement policy (derived from the order's ledger facts, so it is the same in any delivery order):
- paid → ``active`` for the product's licence term (``licence_days``; none = perpetual);
- a partial refund leaves it ``active`` (a goodwill credit; the fan keeps the version);
- a full refund (everything refunded) → ``revoked``;
- an open dispute → ``suspended`` (no downloads); won → ``active`` again; lost → ``revoked``.

Consent policy (``sell_extended`` revoked after a sale): new sales stop at once, and so do downloads
(the download endpoint checks the grant again). Licences already issued stay valid for their term
— the fan may keep using files already downloaded — and are never rewritten. If the grant was revoked
between checkout and payment, the sale is still posted (the money was received) but no entitlement or
licence is issued; the order is flagged ``needs_refund`` for finance.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from remix.audit import service as audit
from remix.catalog.consent import check_use_of_tracks
from remix.catalog.models import Scope, Track
from remix.commerce import ledger, renders, repository
from remix.commerce.models import EntitlementStatus, Order, TransactionKind
from remix.config import Settings
from remix.db import utcnow


def entitlement_status(facts: ledger.OrderFacts) -> EntitlementStatus:
    if facts.refunded >= facts.gross or facts.lost > 0:
        return EntitlementStatus.revoked
    if facts.open_disputes:
        return EntitlementStatus.suspended
    return EntitlementStatus.active


def licence_number(order: Order | repository.PayableOrder) -> str:
    return f"RMX-{order.public_id.upper()}"


def record_payments(session: Session, settings: Settings, sales: list[ledger.Sale], *,
                    render_on_payment: bool = True) -> None:
    """Mark each order of ``sales`` paid, post its sale, and issue its entitlement and licence.

    Each order appears once and is not paid yet (the caller checked both under the orders' row locks).
    The work is set-based — one consent check per track, one statement per kind of row for the whole list —
    because a webhook batch (see :mod:`remix.commerce.group_commit`) confirms many payments at once.
    """
    if not sales:
        return
    ledger.post_sales(session, sales)
    now = utcnow()
    decisions = check_use_of_tracks(session, Scope.sell_extended, {sale.order.track_id for sale in sales}, at=now)
    entitlements, licences, rendering = [], [], []
    paid: list[tuple[int, datetime, bool]] = []
    for sale in sales:
        order, occurred_at = sale.order, sale.occurred_at
        decision = decisions[order.track_id]
        if not decision.allowed or not decision.grant_for_asset:  # no grant, or a track without stems
            paid.append((order.id, occurred_at, True))  # needs_refund: finance refunds it
            audit.record(session, "order.paid_unfulfillable", "order", order.public_id, actor_user_id=None,
                         amount_minor=order.amount_minor, currency=order.currency,
                         uncovered=list(decision.uncovered), provider_event_id=sale.provider_event_id)
            continue
        paid.append((order.id, occurred_at, False))
        valid_until = occurred_at + timedelta(days=order.licence_days) if order.licence_days else None
        entitlements.append(
            {"order_id": order.id, "user_id": order.user_id, "track_id": order.track_id,
             "spec_hash": order.spec_hash, "product": order.product, "status": EntitlementStatus.active,
             "granted_at": occurred_at, "valid_until": valid_until, "updated_at": now})
        licences.append(
            {"number": licence_number(order), "order_id": order.id, "user_id": order.user_id,
             "track_id": order.track_id, "spec_hash": order.spec_hash, "product": order.product,
             "split_sheet_id": order.split_sheet_id, "consent_grant_ids": json.dumps(decision.grant_ids),
             "terms": order.terms, "issued_at": occurred_at, "valid_until": valid_until})
        audit.record(session, "order.paid", "order", order.public_id, actor_user_id=None,
                     amount_minor=order.amount_minor, currency=order.currency, split_sheet_id=order.split_sheet_id,
                     provider_event_id=sale.provider_event_id, licence=licence_number(order))
        rendering.append(order.id)
    repository.mark_orders_paid(session, paid)
    repository.issue_entitlements_and_licences(session, entitlements, licences)
    if render_on_payment:
        for order_id in rendering:
            full = session.get(Order, order_id)  # the render job keeps the ORM order (loaded paid, fresh)
            assert full is not None
            track = session.get(Track, full.track_id)
            assert track is not None
            renders.render_after_commit(session, settings, full, track)


def after_posting(session: Session, order: Order, kind: TransactionKind, ref: str, amount: int,
                  facts: ledger.OrderFacts) -> None:
    """Audit a refund or dispute posting and bring the entitlement in line with the policy."""
    entitlement = repository.entitlement_for_order(session, order.id)
    status = entitlement_status(facts)
    before = entitlement.status.value if entitlement else None
    if entitlement is not None and entitlement.status != status:
        entitlement.status = status
        entitlement.updated_at = utcnow()
        session.flush()
    audit.record(session, f"ledger.{kind.value}", "order", order.public_id, actor_user_id=None, reference=ref,
                 amount_minor=amount, currency=order.currency, entitlement_before=before,
                 entitlement_after=status.value if entitlement else None)
