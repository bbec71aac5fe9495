"""Royalty statements per period and payee, CSV export, period locks, and the reconciliation check.

Amounts on a statement are what the platform owes the payee (credit balances of their ``payable``
account shown as positive): ``closing = opening + sales + refunds + disputes``. Refunds are negative;
disputes are negative when opened and come back positive when won. ``held`` is the payee's share frozen
by disputes still open at the end of the period.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from remix.audit import service as audit
from remix.auth.models import User
from remix.commerce import repository
from remix.commerce.currency import format_minor
from remix.commerce.ledger import period_of
from remix.commerce.models import AccountKind, PeriodLock, TransactionKind
from remix.db import utcnow
from remix.errors import BadRequest, Conflict

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DISPUTE_KINDS = {TransactionKind.dispute_opened, TransactionKind.dispute_won, TransactionKind.dispute_lost}


def check_period(period: str) -> str:
    if not PERIOD.match(period):
        raise BadRequest(f"period must look like 2026-11 (year-month), not '{period}'")
    return period


@dataclass
class StatementLine:
    period: str
    payee_id: int
    payee_name: str
    currency: str
    opening: int = 0
    sales: int = 0
    refunds: int = 0
    disputes: int = 0
    held: int = 0

    @property
    def closing(self) -> int:
        return self.opening + self.sales + self.refunds + self.disputes


def statement(session: Session, period: str, payee_ids: Sequence[int] | None = None) -> list[StatementLine]:
    """One line per payee and currency with any activity up to the end of ``period``."""
    check_period(period)
    names = {p.id: p.name for p in repository.payees(session)}
    lines: dict[tuple[int, str], StatementLine] = {}
    for row in repository.statement_rows(session, payee_ids):
        if row.period > period:
            continue
        key = (row.payee_id, row.currency)
        line = lines.setdefault(key, StatementLine(period, row.payee_id, names.get(row.payee_id, ""), row.currency))
        owed = -int(row.total)  # payable and hold accounts are credit-normal
        if row.account_kind == AccountKind.dispute_hold:
            line.held += owed
            continue
        if row.period < period:
            line.opening += owed
        elif row.transaction_kind == TransactionKind.sale:
            line.sales += owed
        elif row.transaction_kind == TransactionKind.refund:
            line.refunds += owed
        elif row.transaction_kind in DISPUTE_KINDS:
            line.disputes += owed
    return sorted(lines.values(), key=lambda x: (x.payee_id, x.currency))


CSV_COLUMNS = ["period", "payee_id", "payee", "currency", "opening", "sales", "refunds", "disputes", "closing",
               "held"]


def statement_csv(lines: Sequence[StatementLine]) -> str:
    """The statement as CSV; amounts in major units written exactly (``12.34``, ``1234`` for JPY, ``1.230`` KWD)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        money = [format_minor(v, line.currency) for v in
                 (line.opening, line.sales, line.refunds, line.disputes, line.closing, line.held)]
        writer.writerow([line.period, line.payee_id, line.payee_name, line.currency, *money])
    return out.getvalue()


def lock_period(session: Session, actor: User, period: str) -> PeriodLock:
    """Close ``period`` for good: later postings that belong to it land in the next open period."""
    check_period(period)
    if period > period_of(utcnow()):
        raise BadRequest(f"period {period} has not started; only current or past periods can be locked")
    # Waits for every posting that has read the locked periods to commit, and holds off new ones until this
    # lock commits, so no posting lands in the period after it is locked (see ledger.locked_periods).
    repository.hold_period_locks(session, exclusive=True)
    if repository.period_lock(session, period) is not None:
        raise Conflict(f"period {period} is already locked")
    lock = PeriodLock(period=period, locked_by=actor.id, locked_at=utcnow())
    session.add(lock)
    session.flush()
    audit.record(session, "ledger.period_locked", "ledger_period", period, actor_user_id=actor.id)
    return lock


@dataclass
class Reconciliation:
    ok: bool = True
    unbalanced_transactions: list[int] = field(default_factory=list)
    mixed_currency_transactions: list[int] = field(default_factory=list)
    paid_orders_without_one_sale: list[int] = field(default_factory=list)
    sales_of_unpaid_orders: list[int] = field(default_factory=list)
    clearing_balance: dict[str, int] = field(default_factory=dict)
    provider_balance: dict[str, int] = field(default_factory=dict)
    provider_expected: dict[str, int] = field(default_factory=dict)
    orders_needing_refund: list[str] = field(default_factory=list)


def reconcile(session: Session) -> Reconciliation:
    """Every paid order has exactly one sale posting, every transaction balances in one currency, the
    clearing account nets to zero, and the provider account equals sales − refunds − lost disputes."""
    report = Reconciliation(
        unbalanced_transactions=repository.unbalanced_transactions(session),
        mixed_currency_transactions=repository.mixed_currency_transactions(session),
        paid_orders_without_one_sale=repository.paid_orders_without_one_sale(session),
        sales_of_unpaid_orders=repository.sales_without_paid_order(session),
    )
    for (account_kind, currency), total in repository.account_kind_totals(session).items():
        if account_kind == AccountKind.clearing:
            report.clearing_balance[currency] = total
        elif account_kind == AccountKind.provider:
            report.provider_balance[currency] = total
    expected: dict[str, int] = defaultdict(int)
    sign = {TransactionKind.sale: 1, TransactionKind.refund: -1, TransactionKind.dispute_lost: -1}
    for (kind, currency), total in repository.transaction_totals(session).items():
        expected[currency] += sign.get(kind, 0) * total
    report.provider_expected = dict(expected)
    report.orders_needing_refund = repository.orders_needing_refund(session)
    report.ok = not (
        report.unbalanced_transactions or report.mixed_currency_transactions
        or report.paid_orders_without_one_sale or report.sales_of_unpaid_orders
        or any(report.clearing_balance.values())
        or {c: v for c, v in report.provider_balance.items() if v} != {c: v for c, v in expected.items() if v}
    )
    return report
