"""All commerce SQL: lookups, idempotent inserts, row locks and ledger aggregates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from remix.catalog.models import Asset
from remix.commerce.models import (
    AccountKind,
    Entitlement,
    EntitlementStatus,
    EventStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    License,
    Order,
    OrderStatus,
    Payee,
    PeriodLock,
    ProviderEvent,
    SplitSheet,
    SplitSheetLine,
    SplitSheetStatus,
    TrackProduct,
    TransactionKind,
)


def _insert_ignoring_duplicates(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was new.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and then
    reports a conflict, so exactly one of two racing deliveries goes on to process the event.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported databases
        stmt = insert(table).values(**values)
    # RETURNING, not rowcount: psycopg reports a rowcount for a conflicting insert that did nothing.
    key = next(iter(table.primary_key.columns))
    return session.execute(stmt.returning(key)).first() is not None


def insert_event(session: Session, values: dict[str, Any]) -> bool:
    return _insert_ignoring_duplicates(session, ProviderEvent.__table__, values)


def get_event(session: Session, event_id: str) -> ProviderEvent | None:
    return session.get(ProviderEvent, event_id)


def deferred_events(session: Session, payment_intent_id: str) -> Sequence[ProviderEvent]:
    return (
        session.execute(
            select(ProviderEvent)
            .where(ProviderEvent.payment_intent_id == payment_intent_id,
                   ProviderEvent.status == EventStatus.deferred)
            .order_by(ProviderEvent.created, ProviderEvent.id)
        )
        .scalars()
        .all()
    )


def order_for_payment_intent(session: Session, payment_intent_id: str, *, lock: bool) -> Order | None:
    """The order paid by ``payment_intent_id``; ``lock`` takes its row lock (PostgreSQL) so postings
    for one order run one at a time."""
    stmt = select(Order).where(Order.payment_intent_id == payment_intent_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def order_by_public_id(session: Session, public_id: str) -> Order | None:
    return session.execute(select(Order).where(Order.public_id == public_id)).scalar_one_or_none()


def orders_of_user(session: Session, user_id: int) -> Sequence[Order]:
    return session.execute(select(Order).where(Order.user_id == user_id).order_by(Order.id)).scalars().all()


def entitlement_for_order(session: Session, order_id: int) -> Entitlement | None:
    return session.execute(select(Entitlement).where(Entitlement.order_id == order_id)).scalar_one_or_none()


def active_entitlement_exists(session: Session, user_id: int, track_id: int, spec_hash: str, at: Any) -> bool:
    row = session.execute(
        select(Entitlement.id)
        .where(
            Entitlement.user_id == user_id,
            Entitlement.track_id == track_id,
            Entitlement.spec_hash == spec_hash,
            Entitlement.status == EntitlementStatus.active,
            (Entitlement.valid_until.is_(None)) | (Entitlement.valid_until > at),
        )
        .limit(1)
    ).first()
    return row is not None


# --- split sheets, payees, products ---------------------------------------------------------------


def payees(session: Session) -> Sequence[Payee]:
    return session.execute(select(Payee).order_by(Payee.id)).scalars().all()


def payee_by_name(session: Session, name: str) -> Payee | None:
    return session.execute(select(Payee).where(Payee.name == name)).scalar_one_or_none()


def payee_ids_for_artists(session: Session, artist_ids: Iterable[int]) -> list[int]:
    ids = list(artist_ids)
    if not ids:
        return []
    return list(session.execute(select(Payee.id).where(Payee.artist_id.in_(ids))).scalars())


def split_sheets_for_track(session: Session, track_id: int) -> Sequence[SplitSheet]:
    return (
        session.execute(select(SplitSheet).where(SplitSheet.track_id == track_id).order_by(SplitSheet.version))
        .scalars()
        .all()
    )


def latest_split_version(session: Session, track_id: int) -> int:
    return int(session.execute(
        select(func.coalesce(func.max(SplitSheet.version), 0)).where(SplitSheet.track_id == track_id)
    ).scalar_one())


def current_approved_split(session: Session, track_id: int) -> SplitSheet | None:
    return session.execute(
        select(SplitSheet)
        .where(SplitSheet.track_id == track_id, SplitSheet.status == SplitSheetStatus.approved)
        .order_by(SplitSheet.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def product_for_track(session: Session, track_id: int, product: str) -> TrackProduct | None:
    return session.execute(
        select(TrackProduct).where(TrackProduct.track_id == track_id, TrackProduct.product == product)
    ).scalar_one_or_none()


def products_for_track(session: Session, track_id: int) -> Sequence[TrackProduct]:
    return (
        session.execute(select(TrackProduct).where(TrackProduct.track_id == track_id).order_by(TrackProduct.id))
        .scalars()
        .all()
    )


# --- ledger ---------------------------------------------------------------------------------------


def split_lines(session: Session, split_sheet_id: int) -> list[tuple[int, int]]:
    """``(payee_id, basis_points)`` of a split sheet's lines in their order (lines never change)."""
    rows = session.execute(
        select(SplitSheetLine.payee_id, SplitSheetLine.basis_points)
        .where(SplitSheetLine.split_sheet_id == split_sheet_id)
        .order_by(SplitSheetLine.position)
    ).all()
    return [(row.payee_id, row.basis_points) for row in rows]


def stem_ids_of_track(session: Session, track_id: int) -> list[int]:
    """The ids of a track's assets, as ``Track.stems`` lists them, without loading the track."""
    return list(session.execute(select(Asset.id).where(Asset.track_id == track_id).order_by(Asset.id)).scalars())


def account_ids_by_code(session: Session, codes: Iterable[str]) -> dict[str, int]:
    rows = session.execute(select(LedgerAccount.code, LedgerAccount.id).where(LedgerAccount.code.in_(set(codes))))
    return {row.code: row.id for row in rows}


def accounts_by_code(session: Session, codes: Iterable[str]) -> dict[str, LedgerAccount]:
    wanted = list(set(codes))
    rows = session.execute(select(LedgerAccount).where(LedgerAccount.code.in_(wanted))).scalars()
    return {account.code: account for account in rows}


def insert_account(session: Session, code: str, kind: AccountKind, payee_id: int | None, currency: str) -> None:
    _insert_ignoring_duplicates(
        session, LedgerAccount.__table__, {"code": code, "kind": kind.value, "payee_id": payee_id,
                                           "currency": currency}
    )


def transaction_exists(session: Session, source_key: str) -> bool:
    return session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.source_key == source_key)
    ).first() is not None


def transactions_of_order(session: Session, order_id: int) -> Sequence[tuple[TransactionKind, str, int]]:
    rows = session.execute(
        select(LedgerTransaction.kind, LedgerTransaction.source_key, LedgerTransaction.amount_minor)
        .where(LedgerTransaction.order_id == order_id)
        .order_by(LedgerTransaction.id)
    ).all()
    return [(row.kind, row.source_key, row.amount_minor) for row in rows]


def balances_of_order(session: Session, order_id: int) -> dict[int, int]:
    """Sum of entries per account over the order's transactions (debit positive)."""
    rows = session.execute(
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_minor))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.order_id == order_id)
        .group_by(LedgerEntry.account_id)
    ).all()
    return {account_id: int(total) for account_id, total in rows}


def _table(model: Any) -> Table:
    """The Core table of a mapped class: inserts through it skip the ORM's unit of work."""
    table: Table = model.__table__
    return table


def add_transaction(session: Session, values: dict[str, Any], entries: list[tuple[int, int]]) -> int:
    """Insert a ledger transaction and its entries: two statements, whatever the number of entries."""
    transaction_id: int = session.execute(
        insert(_table(LedgerTransaction)).values(**values).returning(_table(LedgerTransaction).c.id)
    ).scalar_one()
    session.execute(
        insert(_table(LedgerEntry)),
        [{"transaction_id": transaction_id, "account_id": account, "amount_minor": amount}
         for account, amount in entries],
    )
    return transaction_id


def issue_entitlement_and_licence(session: Session, entitlement: dict[str, Any], licence: dict[str, Any]) -> None:
    session.execute(insert(_table(Entitlement)).values(**entitlement))
    session.execute(insert(_table(License)).values(**licence))


def locked_periods(session: Session) -> set[str]:
    return set(session.execute(_LOCKED_PERIODS).scalars())


# PostgreSQL transaction-level advisory lock over the set of locked periods (the audit chain's is 724101):
# postings hold it shared from before they read that set until they commit, locking a period holds it
# exclusively, so a period cannot be locked between a posting's read and its commit.
PERIOD_LOCKS_ADVISORY_KEY = 724102
_PERIOD_LOCKS_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({PERIOD_LOCKS_ADVISORY_KEY})")
_PERIOD_LOCKS_EXCLUSIVE = text(f"SELECT pg_advisory_xact_lock({PERIOD_LOCKS_ADVISORY_KEY})")


def hold_period_locks(session: Session, *, exclusive: bool) -> None:
    """Until this transaction ends no other can lock a period; ``exclusive`` (locking one), none can post
    either. Shared holders (postings) never wait for each other. Its own statement, taken before the locked
    periods are read: under READ COMMITTED a statement sees what committed before it started, so a read after
    this one sees a lock that committed while it waited. Nothing on SQLite, whose single writer already
    serialises these transactions (see :func:`remix.commerce.ledger.locked_periods`)."""
    if _is_postgresql(session):
        session.execute(_PERIOD_LOCKS_EXCLUSIVE if exclusive else _PERIOD_LOCKS_SHARED)


def period_lock(session: Session, period: str) -> PeriodLock | None:
    return session.get(PeriodLock, period)


def statement_rows(session: Session, payee_ids: Sequence[int] | None) -> Sequence[Any]:
    """Per payee, currency, period, account kind and transaction kind: the summed entries."""
    stmt = (
        select(
            LedgerAccount.payee_id,
            LedgerAccount.currency,
            LedgerAccount.kind.label("account_kind"),
            LedgerTransaction.period,
            LedgerTransaction.kind.label("transaction_kind"),
            func.sum(LedgerEntry.amount_minor).label("total"),
        )
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerAccount.payee_id.is_not(None))
        .group_by(LedgerAccount.payee_id, LedgerAccount.currency, LedgerAccount.kind, LedgerTransaction.period,
                  LedgerTransaction.kind)
    )
    if payee_ids is not None:
        stmt = stmt.where(LedgerAccount.payee_id.in_(list(payee_ids)))
    return session.execute(stmt).all()


def unbalanced_transactions(session: Session) -> list[int]:
    rows = session.execute(
        select(LedgerEntry.transaction_id)
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_minor) != 0)
    ).scalars()
    return list(rows)


def mixed_currency_transactions(session: Session) -> list[int]:
    rows = session.execute(
        select(LedgerTransaction.id)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.currency != LedgerTransaction.currency)
        .distinct()
    ).scalars()
    return list(rows)


def account_kind_totals(session: Session) -> dict[tuple[AccountKind, str], int]:
    rows = session.execute(
        select(LedgerAccount.kind, LedgerAccount.currency, func.sum(LedgerEntry.amount_minor))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.kind, LedgerAccount.currency)
    ).all()
    return {(kind, currency): int(total) for kind, currency, total in rows}


def paid_orders_without_one_sale(session: Session) -> list[int]:
    """Paid orders with zero or several sale postings (both are reconciliation failures)."""
    sales = (
        select(LedgerTransaction.order_id, func.count().label("n"))
        .where(LedgerTransaction.kind == TransactionKind.sale)
        .group_by(LedgerTransaction.order_id)
        .subquery()
    )
    rows = session.execute(
        select(Order.id)
        .outerjoin(sales, sales.c.order_id == Order.id)
        .where(Order.status == OrderStatus.paid, func.coalesce(sales.c.n, 0) != 1)
    ).scalars()
    return list(rows)


def sales_without_paid_order(session: Session) -> list[int]:
    rows = session.execute(
        select(LedgerTransaction.id)
        .join(Order, Order.id == LedgerTransaction.order_id)
        .where(LedgerTransaction.kind == TransactionKind.sale, Order.status != OrderStatus.paid)
    ).scalars()
    return list(rows)


def transaction_totals(session: Session) -> dict[tuple[TransactionKind, str], int]:
    rows = session.execute(
        select(LedgerTransaction.kind, LedgerTransaction.currency, func.sum(LedgerTransaction.amount_minor))
        .group_by(LedgerTransaction.kind, LedgerTransaction.currency)
    ).all()
    return {(kind, currency): int(total) for kind, currency, total in rows}


def orders_needing_refund(session: Session) -> list[str]:
    return list(session.execute(select(Order.public_id).where(Order.needs_refund.is_(True))).scalars())


# --- batched webhook postings (group commit) ------------------------------------------------------
# One statement per step for a whole batch of webhook events, whatever its size.


def insert_new_events(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """INSERT the events … ON CONFLICT DO NOTHING in one statement; the ids that were new.

    Rows go in id order, so two batches racing over the same ids (two server processes) wait for each
    other in the same order instead of deadlocking. ``rows`` must not repeat an id.
    """
    if not rows:
        return set()
    table = _table(ProviderEvent)
    dialect = session.get_bind().dialect.name
    ordered = sorted(rows, key=lambda row: str(row["id"]))
    if dialect == "postgresql":
        statement, params = _pg_unnest(table, ordered, "p_")
        return set(session.execute(_sql(f"{statement} ON CONFLICT DO NOTHING RETURNING id"), params).scalars())
    stmt: Any = (pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)).values(ordered)
    return set(session.execute(stmt.on_conflict_do_nothing().returning(table.c.id)).scalars())


@dataclass(frozen=True, slots=True)
class PayableOrder:
    """An order as the webhook's set-based payment path reads it (row-locked): plain values, no ORM object.
    Loading orders as ORM objects and flushing their new status through the unit of work was about a tenth
    of a webhook batch's CPU; :func:`mark_orders_paid` writes the change with one Core statement."""

    id: int
    public_id: str
    user_id: int
    track_id: int
    product: str
    spec_hash: str
    amount_minor: int
    currency: str
    split_sheet_id: int
    licence_days: int | None
    terms: str
    status: OrderStatus
    payment_intent_id: str | None


# Hot statements of the webhook batch, built once on Core tables (an ORM-enabled select costs more Python to
# build and run than the row lock it asks for). Core statements do not autoflush; this path has nothing
# pending in the session when it runs them (its own writes are Core statements too).
_orders = Order.__table__.c
_LOCK_ORDERS = (
    select(*(_orders[f.name] for f in fields(PayableOrder)))
    .where(_orders.payment_intent_id.in_(bindparam("pis", expanding=True)))
    .order_by(_orders.id).with_for_update()
)
_events = ProviderEvent.__table__.c
_DEFERRED_EVENTS = (
    select(_events.id, _events.payload)
    .where(_events.payment_intent_id.in_(bindparam("pis", expanding=True)), _events.status == EventStatus.deferred)
    .order_by(_events.created, _events.id)
)
_LOCKED_PERIODS = select(PeriodLock.__table__.c.period)


def lock_orders_for_payment_intents(session: Session, payment_intent_ids: Iterable[str]) -> dict[str, PayableOrder]:
    """The orders paid by these payment intents, row-locked in id order (PostgreSQL) by one statement."""
    wanted = sorted(set(payment_intent_ids))
    if not wanted:
        return {}
    rows = session.execute(_LOCK_ORDERS, {"pis": wanted})
    return {row.payment_intent_id: PayableOrder(*row) for row in rows if row.payment_intent_id is not None}


def mark_orders_paid(session: Session, paid: list[tuple[int, datetime, bool]]) -> None:
    """Set ``(order id, paid_at, needs_refund)`` of row-locked orders, status ``paid``: one statement."""
    if not paid:
        return
    table = _table(Order)
    if _is_postgresql(session):  # one statement, however many orders (executemany would send one each)
        session.execute(_sql(
            "UPDATE orders SET status = :paid, paid_at = u.paid_at, needs_refund = u.needs_refund "
            "FROM unnest(CAST(:ids AS INTEGER[]), CAST(:paid_ats AS TIMESTAMP WITH TIME ZONE[]), "
            "CAST(:needs_refunds AS BOOLEAN[])) AS u(id, paid_at, needs_refund) WHERE orders.id = u.id"),
            {"paid": OrderStatus.paid.value, "ids": [p[0] for p in paid],
             "paid_ats": [_plain(p[1]) for p in paid], "needs_refunds": [p[2] for p in paid]})
    else:
        session.execute(
            update(table).where(table.c.id == bindparam("p_id")).values(
                status=OrderStatus.paid, paid_at=bindparam("p_paid_at"), needs_refund=bindparam("p_needs_refund")),
            [{"p_id": order_id, "p_paid_at": paid_at, "p_needs_refund": needs_refund}
             for order_id, paid_at, needs_refund in paid],
        )
    for order_id, _, _ in paid:  # an ORM copy the caller's session holds is stale now: reload it on next use
        stale = session.identity_map.get(session.identity_key(Order, order_id))
        if stale is not None:
            session.expire(stale)


def split_lines_of_sheets(session: Session, split_sheet_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    """``(payee_id, basis_points)`` of several split sheets' lines, each in its order."""
    lines: dict[int, list[tuple[int, int]]] = {sheet: [] for sheet in set(split_sheet_ids)}
    rows = session.execute(
        select(SplitSheetLine.split_sheet_id, SplitSheetLine.payee_id, SplitSheetLine.basis_points)
        .where(SplitSheetLine.split_sheet_id.in_(list(lines)))
        .order_by(SplitSheetLine.split_sheet_id, SplitSheetLine.position)
    )
    for row in rows:
        lines[row.split_sheet_id].append((row.payee_id, row.basis_points))
    return lines


def deferred_events_for(session: Session, payment_intent_ids: Iterable[str]) -> Sequence[Any]:
    """``(id, payload)`` of the events waiting for any of these payments, in the provider's order (plain
    rows: a payment batch asks this every time and almost always finds nothing)."""
    wanted = sorted(set(payment_intent_ids))
    if not wanted:
        return []
    return session.execute(_DEFERRED_EVENTS, {"pis": wanted}).all()


def _insert_rows(session: Session, table: Table, rows: list[dict[str, Any]], *also: Any) -> list[Any]:
    """INSERT ``rows`` as ONE multi-row statement; their ids, in no particular order. (RETURNING is what
    makes SQLAlchemy batch them into one statement — without it the driver sends a statement per row.)
    ``also``: more columns to return beside the key."""
    if not rows:
        return []
    key = next(iter(table.primary_key.columns))
    return list(session.execute(insert(table).returning(key, *also), rows))


def add_transactions(session: Session, postings: list[tuple[dict[str, Any], list[tuple[int, int]]]]) -> None:
    """Insert several ledger transactions and all their entries: two statements for the lot (one on
    PostgreSQL)."""
    if not postings:
        return
    table = _table(LedgerTransaction)
    entries = [(values["source_key"], account, amount) for values, lines in postings for account, amount in lines]
    if _is_postgresql(session):
        statement, params = _pg_unnest(table, [values for values, _ in postings], "t_")
        session.execute(_sql(
            f"WITH t AS ({statement} RETURNING id, source_key) "
            "INSERT INTO ledger_entries (transaction_id, account_id, amount_minor) "
            "SELECT t.id, e.account_id, e.amount_minor FROM unnest(CAST(:e_key AS VARCHAR[]), "
            "CAST(:e_account AS INTEGER[]), CAST(:e_amount AS BIGINT[])) WITH ORDINALITY "
            "AS e(source_key, account_id, amount_minor, n) JOIN t ON t.source_key = e.source_key ORDER BY e.n"),
            {**params, "e_key": [e[0] for e in entries], "e_account": [e[1] for e in entries],
             "e_amount": [e[2] for e in entries]})
        return
    ids = {row.source_key: row.id for row in _insert_rows(session, table, [values for values, _ in postings],
                                                                  table.c.source_key)}
    _insert_rows(session, _table(LedgerEntry), [
        {"transaction_id": ids[key], "account_id": account, "amount_minor": amount} for key, account, amount in entries
    ])


def issue_entitlements_and_licences(session: Session, entitlements: list[dict[str, Any]],
                                    licences: list[dict[str, Any]]) -> None:
    if _is_postgresql(session) and entitlements and licences:
        first, first_params = _pg_unnest(_table(Entitlement), entitlements, "e_")
        second, second_params = _pg_unnest(_table(License), licences, "l_")
        session.execute(_sql(f"WITH e AS ({first}) {second}"), {**first_params, **second_params})
        return
    _insert_rows(session, _table(Entitlement), entitlements)
    _insert_rows(session, _table(License), licences)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _pg_unnest(table: Table, rows: list[dict[str, Any]], prefix: str) -> tuple[str, dict[str, Any]]:
    """``INSERT INTO table (…) SELECT * FROM unnest(<one array per column>)`` and its parameters.

    Why: the statement's text is the same for any number of rows (PostgreSQL plans it once, psycopg prepares
    it), the rows travel as a few arrays, and several such inserts chain as data-modifying CTEs into one
    round trip; SQLAlchemy's multi-row VALUES cost more Python per row than the posting's own rules.
    Values are passed as the column types store them (enum members as their value)."""
    columns = tuple(rows[0])
    params = {f"{prefix}{name}": [_plain(row[name]) for row in rows] for name in columns}
    return _unnest_insert_sql(table, columns, prefix), params


@lru_cache(maxsize=64)
def _unnest_insert_sql(table: Table, columns: tuple[str, ...], prefix: str) -> str:
    arrays = ", ".join(f"CAST(:{prefix}{name} AS {_array_element_type(table, name)}[])" for name in columns)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


def _array_element_type(table: Table, name: str) -> str:
    """The column's type for the array cast, without a VARCHAR's length: an explicit ``CAST(… AS
    VARCHAR(255)[])`` silently truncates a longer value (a too-long event id was stored cut short and the
    delivery answered ``duplicate``), whereas the INSERT's own assignment to the column rejects it
    ("value too long": a DataError, which the webhook answers with 400)."""
    compiled = str(table.c[name].type.compile(postgresql.dialect()))
    return "VARCHAR" if compiled.startswith("VARCHAR(") else compiled


@lru_cache(maxsize=64)
def _sql(statement: str) -> TextClause:
    """``text(statement)``, parsed once: the batch statements' text repeats for every batch."""
    return text(statement)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)
    return value
