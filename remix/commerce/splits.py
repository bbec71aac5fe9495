"""Payees, split sheets (versioned; the artist accepts, finance approves) and per-track product prices.

A track's sales open only once some version of its split sheet is approved. The newest approved
version governs new orders; a proposed or accepted newer version changes nothing until finance
approves it. Every order records the version it was sold under, and its postings always use that one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remix.audit import service as audit
from remix.auth.deps import ensure_acts_for
from remix.auth.models import Role, User
from remix.catalog import repository as catalog_repository
from remix.catalog.models import Artist, Track
from remix.commerce import repository
from remix.commerce.allocation import TOTAL_BASIS_POINTS
from remix.commerce.currency import check_price, normalise_currency
from remix.commerce.models import Payee, PayeeRole, SplitSheet, SplitSheetLine, SplitSheetStatus, TrackProduct
from remix.db import utcnow
from remix.errors import BadRequest, Conflict, Forbidden, NotFound


@dataclass(frozen=True)
class SplitLineIn:
    payee_id: int
    role: PayeeRole
    basis_points: int


def create_payee(session: Session, actor: User, name: str, artist_id: int | None, email: str | None) -> Payee:
    """Register someone split sheets can pay; ``artist_id`` links the payee to an artist's accounts."""
    if repository.payee_by_name(session, name) is not None:
        raise Conflict(f"a payee named '{name}' already exists")
    if artist_id is not None:
        catalog_repository.get_or_404(session, Artist, artist_id)
    payee = Payee(name=name, artist_id=artist_id, email=email)
    session.add(payee)
    session.flush()
    audit.record(session, "payee.created", "payee", payee.id, actor_user_id=actor.id, name=name, artist_id=artist_id)
    return payee


def _artist_of(session: Session, track_id: int) -> tuple[Track, int]:
    track = catalog_repository.get_or_404(session, Track, track_id)
    return track, track.album.artist_id


def _ensure_may_draft(user: User, artist_id: int) -> None:
    if user.role in (Role.finance, Role.admin):
        return
    ensure_acts_for(user, artist_id)


def propose_split_sheet(session: Session, actor: User, track_id: int, lines: Sequence[SplitLineIn],
                        note: str) -> SplitSheet:
    """A new version of the track's split sheet, waiting for the artist's acceptance."""
    _, artist_id = _artist_of(session, track_id)
    _ensure_may_draft(actor, artist_id)
    if not lines:
        raise BadRequest("a split sheet needs at least one payee line")
    total = sum(line.basis_points for line in lines)
    if total != TOTAL_BASIS_POINTS:
        raise BadRequest(f"basis points must sum to {TOTAL_BASIS_POINTS} (100%); these sum to {total}")
    if any(line.basis_points <= 0 for line in lines):
        raise BadRequest("every line needs a positive number of basis points")
    seen = set()
    for line in lines:
        if (line.payee_id, line.role) in seen:
            raise BadRequest(f"payee {line.payee_id} appears twice with role '{line.role.value}'")
        seen.add((line.payee_id, line.role))
        if session.get(Payee, line.payee_id) is None:
            raise NotFound(f"payee {line.payee_id} does not exist")
    version = repository.latest_split_version(session, track_id) + 1
    sheet = SplitSheet(track_id=track_id, version=version, status=SplitSheetStatus.proposed, created_by=actor.id,
                       created_at=utcnow(), note=note)
    session.add(sheet)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent proposal took this version number
        raise Conflict(f"another version {version} of track {track_id}'s split sheet was just proposed") from exc
    for position, line in enumerate(lines):
        session.add(SplitSheetLine(split_sheet_id=sheet.id, position=position, payee_id=line.payee_id,
                                   role=line.role, basis_points=line.basis_points))
    session.flush()
    session.refresh(sheet)
    audit.record(session, "split_sheet.proposed", "split_sheet", sheet.id, actor_user_id=actor.id,
                 track_id=track_id, version=version,
                 lines=[{"payee_id": x.payee_id, "role": x.role.value, "basis_points": x.basis_points} for x in lines])
    return sheet


def _sheet(session: Session, sheet_id: int) -> SplitSheet:
    sheet = session.get(SplitSheet, sheet_id, with_for_update=True)
    if sheet is None:
        raise NotFound(f"split sheet {sheet_id} does not exist")
    return sheet


def accept_split_sheet(session: Session, actor: User, sheet_id: int) -> SplitSheet:
    """The track's artist (or their manager) accepts a proposed version."""
    sheet = _sheet(session, sheet_id)
    _, artist_id = _artist_of(session, sheet.track_id)
    ensure_acts_for(actor, artist_id)
    if sheet.status != SplitSheetStatus.proposed:
        raise Conflict(f"split sheet {sheet_id} is {sheet.status.value}; only a proposed sheet can be accepted")
    sheet.status = SplitSheetStatus.accepted
    sheet.accepted_by = actor.id
    sheet.accepted_at = utcnow()
    session.flush()
    audit.record(session, "split_sheet.accepted", "split_sheet", sheet.id, actor_user_id=actor.id,
                 track_id=sheet.track_id, version=sheet.version)
    return sheet


def approve_split_sheet(session: Session, actor: User, sheet_id: int) -> SplitSheet:
    """Finance approves an accepted version; from now on it governs the track's new sales."""
    sheet = _sheet(session, sheet_id)
    if sheet.status != SplitSheetStatus.accepted:
        raise Conflict(f"split sheet {sheet_id} is {sheet.status.value}; finance approves only accepted sheets")
    newest = repository.current_approved_split(session, sheet.track_id)
    if newest is not None and newest.version > sheet.version:
        raise Conflict(f"version {newest.version} is already approved; approving older version "
                       f"{sheet.version} would not take effect")
    sheet.status = SplitSheetStatus.approved
    sheet.approved_by = actor.id
    sheet.approved_at = utcnow()
    session.flush()
    audit.record(session, "split_sheet.approved", "split_sheet", sheet.id, actor_user_id=actor.id,
                 track_id=sheet.track_id, version=sheet.version)
    return sheet


def reject_split_sheet(session: Session, actor: User, sheet_id: int, reason: str) -> SplitSheet:
    """The artist or finance turns down a version that is not approved yet."""
    sheet = _sheet(session, sheet_id)
    if actor.role not in (Role.finance, Role.admin):
        _, artist_id = _artist_of(session, sheet.track_id)
        ensure_acts_for(actor, artist_id)
    if sheet.status not in (SplitSheetStatus.proposed, SplitSheetStatus.accepted):
        raise Conflict(f"split sheet {sheet_id} is {sheet.status.value}; it can no longer be rejected")
    sheet.status = SplitSheetStatus.rejected
    session.flush()
    audit.record(session, "split_sheet.rejected", "split_sheet", sheet.id, actor_user_id=actor.id,
                 track_id=sheet.track_id, version=sheet.version, reason=reason)
    return sheet


def visible_split_sheets(session: Session, actor: User, track_id: int) -> Sequence[SplitSheet]:
    _, artist_id = _artist_of(session, track_id)
    if actor.role not in (Role.finance, Role.admin) and artist_id not in actor.artist_ids:
        raise Forbidden(f"only finance and the artist's accounts see track {track_id}'s split sheets")
    return repository.split_sheets_for_track(session, track_id)


PRODUCT_CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def set_product(session: Session, actor: User, track_id: int, product: str, price_minor: int, currency: str,
                licence_days: int | None, terms: str, active: bool) -> TrackProduct:
    """Create or change a track's product price (finance, or the track's artist)."""
    _, artist_id = _artist_of(session, track_id)
    _ensure_may_draft(actor, artist_id)
    if not product or not set(product) <= PRODUCT_CODE_CHARS or len(product) > 32:
        raise BadRequest("product must be 1-32 lowercase letters, digits, '_' or '-', e.g. 'full_length'")
    code = normalise_currency(currency)
    check_price(price_minor, code)
    existing = repository.product_for_track(session, track_id, product)
    before = None
    if existing is None:
        existing = TrackProduct(track_id=track_id, product=product, price_minor=price_minor, currency=code,
                                licence_days=licence_days, terms=terms, active=active, updated_by=actor.id,
                                updated_at=utcnow())
        session.add(existing)
    else:
        before = {"price_minor": existing.price_minor, "currency": existing.currency, "active": existing.active}
        existing.price_minor, existing.currency, existing.licence_days = price_minor, code, licence_days
        existing.terms, existing.active, existing.updated_by, existing.updated_at = terms, active, actor.id, utcnow()
    session.flush()
    audit.record(session, "product.priced", "track_product", existing.id, actor_user_id=actor.id, track_id=track_id,
                 product=product, price_minor=price_minor, currency=code, active=active, before=before)
    return existing
