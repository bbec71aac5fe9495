"""The double-entry royalty ledger: balanced, append-only postings in integer minor units.

Accounts (one currency each): ``provider:CUR`` (money at Stripe), ``clearing:CUR`` (proceeds on their way
to payees; every transaction moves as much in as out, so it always nets to zero), ``payable:PAYEE:CUR``
(what we owe a payee) and ``hold:PAYEE:CUR`` (a payee's share frozen by an open dispute).
Entries are signed: debit positive, credit negative; every transaction's entries sum to zero.

How a posting is computed: the facts of an order (its gross, every refund, every dispute and its outcome)
determine a *target* balance per account, using largest-remainder shares of cumulative amounts. Each
posting writes the difference between that target and what the order's earlier postings already wrote.
So the final balances depend only on *which* facts arrived, never on the order they arrived in, and a
payee's shares of a sale fully refunded in several parts return exactly to zero.

Policy for refunds and disputes (what the shares mean):
- a refund takes the refunded amount back from payees (by share) and out of the provider account;
- an opened dispute moves the disputed amount of the payees' shares from *payable* to *hold*;
- a won dispute moves it back; a lost dispute releases the hold and the money leaves the provider account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session, SessionTransaction

from remix.commerce import repository
from remix.commerce.allocation import allocate_shares
from remix.commerce.models import AccountKind, Order, OrderStatus, TransactionKind
from remix.db import utcnow
from remix.errors import Conflict


class PostingRefused(Conflict):
    """The posting would take back more than the order's remaining amount (or is otherwise impossible)."""


@dataclass
class LookupCache:
    """Ledger facts that never change once committed — account ids by code (accounts are never deleted)
    and the lines of a split sheet — kept by a long-lived caller (the webhook batcher) across transactions.

    ``session.info[LOOKUP_CACHE] = (known, fresh)``: lookups read ``known`` and collect what they had to
    query in ``fresh``; the caller merges ``fresh`` into ``known`` only once the transaction has committed,
    so an account created by a transaction that rolled back never enters the cache.
    """

    accounts: dict[str, int] = field(default_factory=dict)
    split_lines: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def merge(self, other: LookupCache) -> None:
        self.accounts.update(other.accounts)
        self.split_lines.update(other.split_lines)


LOOKUP_CACHE = "remix.commerce.ledger.lookup_cache"


def _caches(session: Session) -> tuple[LookupCache, LookupCache]:
    found: tuple[LookupCache, LookupCache] | None = session.info.get(LOOKUP_CACHE)
    return found if found is not None else (LookupCache(), LookupCache())  # nobody keeps them: throwaway


def split_lines_of(session: Session, split_sheet_ids: set[int]) -> dict[int, list[tuple[int, int]]]:
    known, fresh = _caches(session)
    lines = {sheet: known.split_lines[sheet] for sheet in split_sheet_ids if sheet in known.split_lines}
    if len(lines) < len(split_sheet_ids):
        read = repository.split_lines_of_sheets(session, split_sheet_ids - set(lines))
        fresh.split_lines.update(read)
        lines.update(read)
    return lines


@dataclass
class OrderFacts:
    """What is known about one order's money: gross, refunds, disputes (open, won, lost)."""

    gross: int
    refunded: int = 0
    open_disputes: dict[str, int] = field(default_factory=dict)
    won: int = 0
    lost: int = 0

    @property
    def held(self) -> int:
        return sum(self.open_disputes.values())

    @property
    def taken_back(self) -> int:
        """Everything no longer owed to payees (refunded, held or lost)."""
        return self.refunded + self.held + self.lost

    def apply(self, kind: TransactionKind, ref: str, amount: int) -> None:
        if kind == TransactionKind.refund:
            self.refunded += amount
        elif kind == TransactionKind.dispute_opened:
            self.open_disputes[ref] = amount
        elif kind == TransactionKind.dispute_won:
            self.won += self.open_disputes.pop(ref, 0)
        elif kind == TransactionKind.dispute_lost:
            self.lost += self.open_disputes.pop(ref, 0)


def facts_of(session: Session, order: Order) -> OrderFacts:
    facts = OrderFacts(gross=order.amount_minor)
    for kind, source_key, amount in repository.transactions_of_order(session, order.id):
        facts.apply(kind, source_key.split(":", 1)[1], amount)
    return facts


def source_key(kind: TransactionKind, ref: str) -> str:
    return f"{kind.value}:{ref}"


def period_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def next_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


LOCKED_PERIODS = "remix.commerce.ledger.locked_periods"


def locked_periods(session: Session) -> set[str]:
    """The locked periods, read once per transaction and true until it commits: no period can be locked
    meanwhile, so nothing this transaction posts lands in a period locked before it commits.

    PostgreSQL: the first call takes the period locks' advisory lock (shared) in its own statement, then reads
    them (:func:`repository.hold_period_locks`); :func:`remix.commerce.statements.lock_period` takes it
    exclusively, so it waits for every posting that has read them to commit. SQLite needs nothing: a posting
    reads them after its transaction's first write (a webhook batch stores its events first), so it holds
    the database's only write lock — a period lock cannot commit before the posting does, and in WAL mode a
    transaction that writes always reads the latest commit."""
    locked: set[str] | None = session.info.get(LOCKED_PERIODS)
    if locked is None:
        repository.hold_period_locks(session, exclusive=False)
        locked = session.info[LOCKED_PERIODS] = repository.locked_periods(session)
    return locked


@orm_events.listens_for(Session, "after_transaction_end")
def _forget_locked_periods(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the lock went with the transaction: the next one reads them again
        session.info.pop(LOCKED_PERIODS, None)


def open_period_for(session: Session, at: datetime) -> str:
    """The period a posting for something that happened at ``at`` lands in: its own month, or the first
    unlocked month after it (a locked period never changes; corrections post into the next one)."""
    locked = locked_periods(session)
    period = period_of(at)
    while period in locked:
        period = next_period(period)
    return period


def _codes(currency: str, payee_id: int) -> tuple[str, str]:
    return f"payable:{payee_id}:{currency}", f"hold:{payee_id}:{currency}"


def _targets(lines: list[tuple[int, int]], facts: OrderFacts, currency: str) -> dict[str, int]:
    """Target balance (debit positive) of every account this order touches; ``lines`` are the split sheet's
    ``(payee_id, basis_points)`` in order."""
    bps = [basis_points for _, basis_points in lines]
    owed_gross = allocate_shares(facts.gross, bps)
    taken = allocate_shares(facts.taken_back, bps)
    refunded = allocate_shares(facts.refunded, bps)
    refunded_or_held = allocate_shares(facts.refunded + facts.held, bps)
    targets: dict[str, int] = defaultdict(int)
    for index, (payee_id, _) in enumerate(lines):
        payable, hold = _codes(currency, payee_id)
        targets[payable] -= owed_gross[index] - taken[index]
        targets[hold] -= refunded_or_held[index] - refunded[index]
    targets[f"provider:{currency}"] = facts.gross - facts.refunded - facts.lost
    return targets


def _account_ids(session: Session, needs: dict[str, set[int]]) -> dict[str, int]:
    """Ids of the provider, clearing, payable and hold accounts of ``needs`` (currency → payee ids), created
    on first use; one query when they all exist."""
    wanted: dict[str, tuple[AccountKind, int | None, str]] = {}
    for currency, payee_ids in needs.items():
        wanted[f"provider:{currency}"] = (AccountKind.provider, None, currency)
        wanted[f"clearing:{currency}"] = (AccountKind.clearing, None, currency)
        for payee_id in payee_ids:
            payable, hold = _codes(currency, payee_id)
            wanted[payable] = (AccountKind.payable, payee_id, currency)
            wanted[hold] = (AccountKind.dispute_hold, payee_id, currency)
    known, fresh = _caches(session)
    found = {code: known.accounts[code] for code in wanted if code in known.accounts}
    if len(found) == len(wanted):
        return found
    read = repository.account_ids_by_code(session, [code for code in wanted if code not in found])
    missing = [code for code in wanted if code not in found and code not in read]
    if missing:  # only the first posting of a currency or payee creates accounts
        for code in sorted(missing):
            kind, owner, currency = wanted[code]
            repository.insert_account(session, code, kind, owner, currency)
        read = repository.account_ids_by_code(session, [code for code in wanted if code not in found])
    fresh.accounts.update(read)
    return {**found, **read}


def _entries(ids: dict[str, int], lines: list[tuple[int, int]], facts: OrderFacts, currency: str,
             current: dict[int, int], key: str) -> list[tuple[int, int]]:
    """The balanced entries that bring the order's accounts from ``current`` to the targets of ``facts``."""
    targets = _targets(lines, facts, currency)
    deltas = {code: target - current.get(ids[code], 0) for code, target in targets.items()}
    provider_delta = deltas.pop(f"provider:{currency}")
    clearing = ids[f"clearing:{currency}"]
    entries: list[tuple[int, int]] = [
        (ids[f"provider:{currency}"], provider_delta),
        (clearing, -provider_delta),
        (clearing, provider_delta),
        *((ids[code], delta) for code, delta in sorted(deltas.items())),
    ]
    entries = [(account, value) for account, value in entries if value != 0]
    if sum(value for _, value in entries) != 0:  # pragma: no cover - guaranteed by exact allocation
        raise AssertionError(f"unbalanced posting for {key}")
    return entries


@dataclass(frozen=True)
class Sale:
    """A confirmed payment of an order not yet paid (the caller holds the order's row lock)."""

    order: repository.PayableOrder
    occurred_at: datetime
    provider_event_id: str


def post_sales(session: Session, sales: list[Sale]) -> None:
    """Post the sale of every order in ``sales`` (each order once, none already paid): a fixed number of
    statements for the whole list — split lines, accounts and locked periods read once, then every
    transaction and every entry inserted by one statement each."""
    if not sales:
        return
    lines_of = split_lines_of(session, {sale.order.split_sheet_id for sale in sales})
    needs: dict[str, set[int]] = defaultdict(set)
    for sale in sales:
        needs[sale.order.currency].update(payee for payee, _ in lines_of[sale.order.split_sheet_id])
    ids = _account_ids(session, needs)
    posted_at = utcnow()
    postings = []
    for sale in sales:
        order = sale.order
        key = source_key(TransactionKind.sale, order.payment_intent_id or order.public_id)
        entries = _entries(ids, lines_of[order.split_sheet_id], OrderFacts(gross=order.amount_minor),
                           order.currency, {}, key)
        postings.append(({
            "source_key": key, "kind": TransactionKind.sale, "order_id": order.id,
            "split_sheet_id": order.split_sheet_id, "currency": order.currency, "amount_minor": order.amount_minor,
            "period": open_period_for(session, sale.occurred_at), "provider_event_id": sale.provider_event_id,
            "occurred_at": sale.occurred_at, "posted_at": posted_at,
        }, entries))
    repository.add_transactions(session, postings)


def post(
    session: Session,
    order: Order,
    kind: TransactionKind,
    ref: str,
    amount: int,
    *,
    occurred_at: datetime,
    provider_event_id: str | None,
) -> OrderFacts | None:
    """Post one fact about ``order`` (a sale, a refund, a dispute step) once; None if already posted.

    The caller holds the order's row lock, so postings of one order never interleave.
    """
    key = source_key(kind, ref)
    is_first = kind == TransactionKind.sale
    # A sale is the order's first posting (other events wait for it), so an unpaid order has no sale yet.
    if (not is_first or order.status == OrderStatus.paid) and repository.transaction_exists(session, key):
        return None
    if amount <= 0:
        raise PostingRefused(f"{kind.value} amount must be positive, got {amount}")
    facts = OrderFacts(gross=order.amount_minor) if is_first else facts_of(session, order)
    before_taken = facts.taken_back
    facts.apply(kind, ref, amount)
    if kind in (TransactionKind.refund, TransactionKind.dispute_opened) and facts.taken_back > facts.gross:
        raise PostingRefused(
            f"{kind.value} of {amount} exceeds what is left of order {order.public_id} "
            f"({order.amount_minor - before_taken} {order.currency})"
        )
    # Plain column reads and inserts (no ORM objects): a posting is a handful of statements.
    lines = repository.split_lines(session, order.split_sheet_id)
    currency = order.currency
    ids = _account_ids(session, {currency: {payee_id for payee_id, _ in lines}})
    current = {} if is_first else repository.balances_of_order(session, order.id)
    entries = _entries(ids, lines, facts, currency, current, key)
    repository.add_transaction(session, {
        "source_key": key, "kind": kind, "order_id": order.id, "split_sheet_id": order.split_sheet_id,
        "currency": currency, "amount_minor": amount, "period": open_period_for(session, occurred_at),
        "provider_event_id": provider_event_id, "occurred_at": occurred_at, "posted_at": utcnow(),
    }, entries)
    return facts
