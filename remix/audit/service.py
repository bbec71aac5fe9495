"""Appending to and verifying the hash-chained audit log.

An event is recorded in the caller's transaction, but it joins the chain only when that transaction
commits: :func:`record` queues it, and a ``before_commit`` hook appends the queued events as the very
last statements before ``COMMIT``. Linking needs the true tail, so appenders are serialised (PostgreSQL:
a transaction-scoped advisory lock; SQLite: its single writer) until their commit ends. Taking that lock at
the end rather than at the first ``record`` keeps everything else the transaction does — row locks,
ledger postings, consent checks — outside the serialised section, which then holds only the append itself
and the commit; a transaction that rolls back never reaches it and leaves no event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, bindparam, insert, select, text
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session, SessionTransaction

from remix.audit.models import AuditEvent
from remix.db import UTCDateTime, utcnow

GENESIS_HASH = "0" * 64
# session.info key of the events recorded in the current transaction and not yet appended.
PENDING = "remix.audit.pending"
ADVISORY_LOCK_KEY = 724101

SQLITE_SHA256 = "remix_sha256_hex"


def _append_statement(digest_sql: str) -> TextClause:
    """INSERT one event linked to the current tail: the tail is read and the hash computed by the statement
    itself (sha256 over the same bytes as :func:`event_hash`), one round trip per event."""
    return text(
        "INSERT INTO audit_events (occurred_at, actor_user_id, action, subject_type, subject_id, payload, "
        "prev_hash, hash) "
        "SELECT :occurred_at, :actor_user_id, :action, :subject_type, :subject_id, :payload, tail.hash, "
        f"{digest_sql} "
        "FROM (SELECT coalesce((SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), :genesis) AS hash) AS tail "
        "RETURNING id, prev_hash, hash"
    ).bindparams(bindparam("occurred_at", type_=UTCDateTime()))


# SQLite's append (PostgreSQL appends a transaction's events together: see _append_postgresql).
_APPEND = {"sqlite": _append_statement(f"{SQLITE_SHA256}(tail.hash || :linked_body)")}


def _sha256_hex(text_value: str) -> str:
    return hashlib.sha256(text_value.encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def hashed_body(event: AuditEvent) -> str:
    """The canonical JSON of everything an event's hash covers besides the previous hash."""
    return canonical_json(
        {
            "occurred_at": event.occurred_at.isoformat(),
            "actor_user_id": event.actor_user_id,
            "action": event.action,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "payload": event.payload,
        }
    )


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(f"{prev_hash}\n{hashed_body(event)}".encode()).hexdigest()


def record(
    session: Session,
    action: str,
    subject_type: str,
    subject_id: object,
    *,
    actor_user_id: int | None,
    **payload: Any,
) -> AuditEvent:
    """Record one event in the caller's transaction; it is chained to the tail when the transaction commits.

    The returned event gets its ``id``, ``prev_hash`` and ``hash`` at that commit.
    """
    recorded = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor_user_id,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        payload=canonical_json(payload),
    )
    session.info.setdefault(PENDING, []).append(recorded)
    return recorded


@orm_events.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending: list[AuditEvent] | None = session.info.pop(PENDING, None)
    if not pending:
        return
    # Write what the events describe first, so a failing change fails before the chain lock is taken.
    session.flush()
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        _append_postgresql(session, pending)
        return
    # SQLite has no sha256 in SQL: lend it Python's. Its INSERT takes the database's only write lock
    # before it reads the tail, which serialises appenders just as well.
    connection.connection.driver_connection.create_function(  # type: ignore[union-attr]
        SQLITE_SHA256, 1, _sha256_hex, deterministic=True)
    for queued in pending:
        row = session.execute(_APPEND[dialect], {
            "occurred_at": queued.occurred_at, "actor_user_id": queued.actor_user_id, "action": queued.action,
            "subject_type": queued.subject_type, "subject_id": queued.subject_id, "payload": queued.payload,
            "linked_body": "\n" + hashed_body(queued), "genesis": GENESIS_HASH,
        }).one()
        queued.id, queued.prev_hash, queued.hash = row.id, row.prev_hash, row.hash


_TAIL_AND_IDS = text(
    "SELECT coalesce((SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), :genesis) AS tail, "
    "ARRAY(SELECT nextval(pg_get_serial_sequence('audit_events', 'id')) FROM generate_series(1, :n)) AS ids"
)


def _append_postgresql(session: Session, pending: list[AuditEvent]) -> None:
    """Append all of a transaction's events in three round trips, however many there are (a webhook batch
    records one per payment): take the chain lock, read the tail and reserve ids, insert the linked rows."""
    # Released by COMMIT: appenders queue here. The tail is read by a later statement, so it sees the
    # last appender's commit (a statement's snapshot is taken when it starts, i.e. after the lock).
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    found = session.execute(_TAIL_AND_IDS, {"genesis": GENESIS_HASH, "n": len(pending)}).one()
    tail: str = found.tail
    rows = []
    # Ids taken under the lock and given out in chain order: reading the log by id walks the chain.
    for event_id, queued in zip(sorted(found.ids), pending, strict=True):
        queued.id, queued.prev_hash, queued.hash = event_id, tail, event_hash(tail, queued)
        tail = queued.hash
        rows.append({"id": queued.id, "occurred_at": queued.occurred_at, "actor_user_id": queued.actor_user_id,
                     "action": queued.action, "subject_type": queued.subject_type,
                     "subject_id": queued.subject_id, "payload": queued.payload, "prev_hash": queued.prev_hash,
                     "hash": queued.hash})
    table = AuditEvent.__table__
    # RETURNING makes SQLAlchemy send the rows as one multi-row INSERT rather than one statement per row.
    session.execute(insert(table).returning(table.c.id), rows).all()  # type: ignore[arg-type]


@orm_events.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    # Rolled back or closed without a commit: what it recorded never happened.
    if transaction.parent is None:
        session.info.pop(PENDING, None)


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    ok: bool
    first_bad_event_id: int | None = None
    problem: str | None = None


def verify_chain(session: Session) -> ChainReport:
    """Walk the log from the start; report the first event whose link or content was altered."""
    prev = GENESIS_HASH
    count = 0
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        count += 1
        if event.prev_hash != prev:
            return ChainReport(count, False, event.id, "link to the previous event is broken")
        if event_hash(prev, event) != event.hash:
            return ChainReport(count, False, event.id, "content does not match its hash")
        prev = event.hash
    return ChainReport(count, True)
