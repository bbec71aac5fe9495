"""Read-only views for the finance dashboard and the artist console: revenue over time, split sheets
waiting for finance, orders with their refunds and disputes, and what relies on each consent grant
(the models trained, the outputs rendered and the licences sold under it).

Nothing here writes; every figure is summed from the append-only ledger, so the charts always agree with
the statements.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remix.catalog.models import Track
from remix.commerce.models import (
    AccountKind,
    Entitlement,
    EntitlementStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    License,
    Order,
    OrderStatus,
    Payee,
    SplitSheet,
    SplitSheetStatus,
    TransactionKind,
)
from remix.provenance.models import Render
from remix.visuals.models import VisualModel, VisualModelSource

# A transaction's effect on revenue: sales count in, refunds and lost disputes count out. An open dispute
# only holds money (the statement shows it as ``held``); a won dispute gives nothing back that was taken.
_REVENUE_SIGN = {TransactionKind.sale: 1, TransactionKind.refund: -1, TransactionKind.dispute_lost: -1}


@dataclass
class RevenueSeries:
    """One line of a chart: a track's or a payee's net revenue per period, in one currency."""

    key: int
    label: str
    currency: str
    points: dict[str, int] = field(default_factory=dict)  # period (YYYY-MM) → net minor units

    @property
    def total(self) -> int:
        return sum(self.points.values())


def revenue(session: Session, by: Literal["track", "payee"]) -> list[RevenueSeries]:
    """Net revenue per period, by track (what fans paid, less refunds and lost disputes) or by payee
    (their share of it, the same figures their statements show as sales + refunds + disputes)."""
    series: dict[tuple[int, str], RevenueSeries] = {}
    if by == "track":
        track_rows = session.execute(
            select(Order.track_id, Track.title, LedgerTransaction.currency, LedgerTransaction.period,
                   LedgerTransaction.kind, func.sum(LedgerTransaction.amount_minor))
            .join(Order, Order.id == LedgerTransaction.order_id)
            .join(Track, Track.id == Order.track_id)
            .group_by(Order.track_id, Track.title, LedgerTransaction.currency, LedgerTransaction.period,
                      LedgerTransaction.kind)
        ).all()
        for key, label, currency, period, kind, total in track_rows:
            line = series.setdefault((key, currency), RevenueSeries(key, label, currency))
            line.points[period] = line.points.get(period, 0) + _REVENUE_SIGN.get(kind, 0) * int(total)
    else:
        payee_rows = session.execute(
            select(Payee.id, Payee.name, LedgerAccount.currency, LedgerTransaction.period,
                   func.sum(LedgerEntry.amount_minor))
            .join(LedgerAccount, LedgerAccount.payee_id == Payee.id)
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerAccount.kind == AccountKind.payable)
            .group_by(Payee.id, Payee.name, LedgerAccount.currency, LedgerTransaction.period)
        ).all()
        for key, label, currency, period, total in payee_rows:
            line = series.setdefault((key, currency), RevenueSeries(key, label, currency))
            line.points[period] = line.points.get(period, 0) - int(total)  # payables are credit-normal
    return sorted(series.values(), key=lambda s: (s.currency, -s.total, s.label))


def split_sheets_with_status(session: Session, status: SplitSheetStatus) -> Sequence[tuple[SplitSheet, str]]:
    """Every split sheet version in ``status`` with its track's title, oldest first."""
    rows = session.execute(
        select(SplitSheet, Track.title).join(Track, Track.id == SplitSheet.track_id)
        .where(SplitSheet.status == status).order_by(SplitSheet.id)
    ).all()
    return [(sheet, title) for sheet, title in rows]


@dataclass
class OrderMoney:
    """An order as finance sees it: what was paid, refunded and disputed, and the licence's state."""

    order: Order
    track_title: str
    entitlement: EntitlementStatus | None
    refunded: int
    disputed: int  # held by a dispute still open, or lost to one
    dispute_open: bool


def orders_for_finance(session: Session, limit: int) -> list[OrderMoney]:
    """The newest ``limit`` orders that got past placing (paid, or failed), with their refunds and disputes."""
    orders = session.execute(
        select(Order, Track.title).join(Track, Track.id == Order.track_id)
        .where(Order.status != OrderStatus.pending).order_by(Order.id.desc()).limit(limit)
    ).all()
    ids = [o.id for o, _ in orders]
    moved: dict[tuple[int, TransactionKind], int] = defaultdict(int)
    if ids:
        for order_id, kind, total in session.execute(
            select(LedgerTransaction.order_id, LedgerTransaction.kind, func.sum(LedgerTransaction.amount_minor))
            .where(LedgerTransaction.order_id.in_(ids)).group_by(LedgerTransaction.order_id, LedgerTransaction.kind)
        ):
            moved[(order_id, kind)] = int(total)
    status = {e.order_id: e.status for e in session.execute(
        select(Entitlement).where(Entitlement.order_id.in_(ids))).scalars()} if ids else {}
    out = []
    for order, title in orders:
        opened = moved[(order.id, TransactionKind.dispute_opened)]
        closed = moved[(order.id, TransactionKind.dispute_won)] + moved[(order.id, TransactionKind.dispute_lost)]
        out.append(OrderMoney(order, title, status.get(order.id), moved[(order.id, TransactionKind.refund)],
                              opened - moved[(order.id, TransactionKind.dispute_won)], opened > closed))
    return out


def renders_under_grant(session: Session, grant_id: int) -> dict[str, int]:
    """How many outputs (clips, paid renders, visuals …) were issued relying on ``grant_id``, by purpose."""
    counts: dict[str, int] = defaultdict(int)
    for purpose, grant_ids in session.execute(
        select(Render.purpose, Render.grant_ids_json).where(Render.grant_ids_json.like(f"%{grant_id}%"))
    ):
        if grant_id in json.loads(grant_ids):
            counts[purpose] += 1
    return dict(counts)


def models_under_grant(session: Session, grant_id: int) -> Sequence[VisualModel]:
    """The visual models trained on artwork that ``grant_id`` allowed."""
    return session.execute(
        select(VisualModel).join(VisualModelSource, VisualModelSource.model_id == VisualModel.id)
        .where(VisualModelSource.grant_id == grant_id).distinct().order_by(VisualModel.id)
    ).scalars().all()


def sales_under_grant(session: Session, grant_id: int) -> list[License]:
    """The licences sold while ``grant_id`` (a ``sell_extended`` grant) covered the track."""
    # The grant ids are a JSON list in the licence row; a LIKE narrows the rows, the parse decides.
    candidates = session.execute(
        select(License).where(License.consent_grant_ids.like(f"%{grant_id}%")).order_by(License.id)
    ).scalars()
    return [lic for lic in candidates if grant_id in json.loads(lic.consent_grant_ids)]
