"""Reading and verifying the audit log (admins)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from remix.audit.models import AuditEvent
from remix.audit.service import verify_chain
from remix.auth.deps import AdminUser
from remix.db import SessionDep
from remix.errors import Forbidden, Unauthorized, error_responses

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    occurred_at: datetime
    actor_user_id: int | None
    action: str
    subject_type: str
    subject_id: str
    payload: str
    prev_hash: str
    hash: str


class ChainReportOut(BaseModel):
    events_checked: int
    ok: bool
    first_bad_event_id: int | None
    problem: str | None


@router.get("/events", response_model=list[AuditEventOut], responses=error_responses(Unauthorized, Forbidden))
def list_events(session: SessionDep, _: AdminUser, after_id: int = 0,
                limit: int = Query(default=100, ge=1, le=1000)) -> list[AuditEvent]:
    """Audit events in order, ``limit`` at a time after ``after_id``."""
    q = select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id).limit(limit)
    return list(session.execute(q).scalars())


@router.get("/verify", response_model=ChainReportOut, responses=error_responses(Unauthorized, Forbidden))
def verify(session: SessionDep, _: AdminUser) -> ChainReportOut:
    """Recompute the hash chain and report the first altered or missing event, if any."""
    report = verify_chain(session)
    return ChainReportOut(**report.__dict__)
