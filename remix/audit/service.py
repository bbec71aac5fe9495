"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from remix.audit.models import AuditEvent
from remix.db import utcnow

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    body = canonical_json(
        {
            "occurred_at": event.occurred_at.isoformat(),
            "actor_user_id": event.actor_user_id,
            "action": event.action,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "payload": event.payload,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def record(
    session: Session,
    action: str,
    subject_type: str,
    subject_id: object,
    *,
    actor_user_id: int | None,
    **payload: Any,
) -> AuditEvent:
    """Append one event in the caller's transaction, chained to the current tail."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appenders so each reads the true tail; the unique prev_hash backs this up.
        session.execute(text("SELECT pg_advisory_xact_lock(724101)"))
    tail = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    prev = tail or GENESIS_HASH
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor_user_id,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        payload=canonical_json(payload),
        prev_hash=prev,
    )
    event.hash = event_hash(prev, event)
    session.add(event)
    session.flush()
    return event


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
