"""The one answer to "is this use of these assets allowed now?". Every feature asks it here.

A use is allowed only while, for every asset involved, some grant of the requested scope covers the
asset (directly, or through its album), has started, has not expired, and has no revocation that
has taken effect. Revocation is a separate fact, so a grant's history is never rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from remix.catalog.models import Asset, ConsentGrant, ConsentRevocation, Scope
from remix.db import MAX_INTEGER_ID, utcnow
from remix.errors import ConsentNotGranted, NotFound


@dataclass(frozen=True)
class ConsentDecision:
    """Which grant covers each asset, and which assets no live grant covers."""

    scope: Scope
    at: datetime
    grant_for_asset: dict[int, int] = field(default_factory=dict)
    uncovered: tuple[int, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.uncovered

    @property
    def grant_ids(self) -> list[int]:
        return sorted(set(self.grant_for_asset.values()))


def grant_is_live(grant: ConsentGrant, at: datetime) -> bool:
    if grant.granted_at > at:
        return False
    if grant.expires_at is not None and grant.expires_at <= at:
        return False
    return not (grant.revocation is not None and grant.revocation.revoked_at <= at)


def check_use(
    session: Session, scope: Scope, asset_ids: Iterable[int], *, at: datetime | None = None
) -> ConsentDecision:
    """Decide whether ``scope`` is allowed for all of ``asset_ids`` at ``at`` (default: now)."""
    at = at or utcnow()
    wanted = sorted(set(asset_ids))
    if not wanted:
        return ConsentDecision(scope=scope, at=at)
    possible = [a for a in wanted if 0 < a <= MAX_INTEGER_ID]
    assets = session.execute(select(Asset.id, Asset.album_id).where(Asset.id.in_(possible))).all()
    album_of = {row.id: row.album_id for row in assets}
    missing = [a for a in wanted if a not in album_of]
    if missing:
        raise NotFound(f"asset(s) {missing} do not exist")
    grants = (
        session.execute(
            select(ConsentGrant)
            .outerjoin(ConsentRevocation, ConsentRevocation.grant_id == ConsentGrant.id)
            .where(
                ConsentGrant.scope == scope,
                or_(ConsentGrant.asset_id.in_(wanted), ConsentGrant.album_id.in_(set(album_of.values()))),
            )
            .order_by(ConsentGrant.granted_at, ConsentGrant.id)
            # Grants (and their revocations) already in this session's identity map may be stale: a
            # revocation committed since must count at once, so reload them rather than trust the cache.
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    covering: dict[int, int] = {}
    for asset_id in wanted:
        live = [
            g
            for g in grants
            if (g.asset_id == asset_id or g.album_id == album_of[asset_id]) and grant_is_live(g, at)
        ]
        if live:
            # The newest live grant is the one cited in provenance; any live grant suffices.
            covering[asset_id] = live[-1].id
    uncovered = tuple(a for a in wanted if a not in covering)
    return ConsentDecision(scope=scope, at=at, grant_for_asset=covering, uncovered=uncovered)


def require_use(
    session: Session, scope: Scope, asset_ids: Sequence[int], *, at: datetime | None = None
) -> ConsentDecision:
    """Like :func:`check_use` but raises :class:`ConsentNotGranted` naming the uncovered assets."""
    decision = check_use(session, scope, asset_ids, at=at)
    if not decision.allowed:
        raise ConsentNotGranted(
            f"no live '{scope.value}' consent grant covers asset(s) {list(decision.uncovered)}"
        )
    return decision
