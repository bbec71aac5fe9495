"""The one answer to "is this use of these assets allowed now?". Every feature asks it here.

A use is allowed only while, for every asset involved, some grant of the requested scope covers the
asset (directly, or through its album), has started, has not expired, and has no revocation that
has taken effect. Revocation is a separate fact, so a grant's history is never rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from remix.catalog.models import Asset, AssetKind, ConsentGrant, ConsentRevocation, Scope, Track
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
    return _live(grant.granted_at, grant.expires_at,
                 grant.revocation.revoked_at if grant.revocation is not None else None, at)


def _live(granted_at: datetime, expires_at: datetime | None, revoked_at: datetime | None, at: datetime) -> bool:
    if granted_at > at:
        return False
    if expires_at is not None and expires_at <= at:
        return False
    return not (revoked_at is not None and revoked_at <= at)


def check_use(
    session: Session, scope: Scope, asset_ids: Iterable[int], *, at: datetime | None = None
) -> ConsentDecision:
    """Decide whether ``scope`` is allowed for all of ``asset_ids`` at ``at`` (default: now)."""
    at = at or utcnow()
    wanted = sorted(set(asset_ids))
    if not wanted:
        return ConsentDecision(scope=scope, at=at)
    possible = [a for a in wanted if 0 < a <= MAX_INTEGER_ID]
    _autoflush(session)
    rows = session.execute(_assets_with_grants(scope, "id"), {"keys": possible}).all()
    found = {row.id for row in rows}
    missing = [a for a in wanted if a not in found]
    if missing:
        raise NotFound(f"asset(s) {missing} do not exist")
    return _decide(scope, at, wanted, rows)


def check_use_of_tracks(
    session: Session, scope: Scope, track_ids: Iterable[int], *, at: datetime | None = None
) -> dict[int, ConsentDecision]:
    """:func:`check_use` of all the stems of each track, for several tracks in one query. A track without
    stems gets a decision with no assets (``grant_for_asset`` and ``uncovered`` both empty)."""
    at = at or utcnow()
    wanted = sorted(set(track_ids))
    if not wanted:
        return {}
    _autoflush(session)
    rows = session.execute(_assets_with_grants(scope, "track_id"), {"keys": wanted}).all()
    return {track: _decide(scope, at, sorted({row.id for row in rows if row.track_id == track}),
                           [row for row in rows if row.track_id == track])
            for track in wanted}


def _assets_with_grants(scope: Scope, by: str) -> Select[*tuple[Any, ...]]:
    """Each asset (``by`` its ``id`` or its ``track_id``, in the expanding parameter ``keys``) with every grant
    of ``scope`` that names it or its album, and the grant's revocation if any: one round trip.

    Plain Core rows, not ORM objects: they are read fresh from the database, so a revocation committed a
    moment ago counts at once (no identity-map copy of a grant can be stale). Built once per scope and key
    (a sale batch asks this every time; building and caching the statement cost as much as running it)."""
    found = _STATEMENTS.get((scope, by))
    if found is None:
        asset, grant = Asset.__table__.c, ConsentGrant.__table__.c
        revocation = ConsentRevocation.__table__.c
        found = (
            select(asset.id, asset.track_id, grant.id.label("grant_id"), grant.granted_at, grant.expires_at,
                   revocation.revoked_at)
            .select_from(Asset.__table__)
            .outerjoin(ConsentGrant.__table__, and_(
                grant.scope == scope, or_(grant.asset_id == asset.id, grant.album_id == asset.album_id)))
            .outerjoin(ConsentRevocation.__table__, revocation.grant_id == grant.id)
            .where(asset[by].in_(bindparam("keys", expanding=True)))
            .order_by(grant.granted_at, grant.id)
        )
        _STATEMENTS[(scope, by)] = found
    return found


_STATEMENTS: dict[tuple[Scope, str], Select[*tuple[Any, ...]]] = {}


def _autoflush(session: Session) -> None:
    # A Core statement does not autoflush the session as an ORM query would: a grant or revocation the
    # caller added but has not flushed must still count (as it did when this read ORM objects).
    if session.autoflush:
        session.flush()


def _decide(scope: Scope, at: datetime, wanted: list[int], rows: Sequence[Any]) -> ConsentDecision:
    covering: dict[int, int] = {}
    for row in rows:  # oldest grant first: the newest live grant, cited in provenance, is written last
        if row.grant_id is not None and _live(row.granted_at, row.expires_at, row.revoked_at, at):
            covering[row.id] = row.grant_id
    uncovered = tuple(a for a in wanted if a not in covering)
    return ConsentDecision(scope=scope, at=at, grant_for_asset=covering, uncovered=uncovered)


def require_use(
    session: Session, scope: Scope, asset_ids: Sequence[int], *, at: datetime | None = None
) -> ConsentDecision:
    """Like :func:`check_use` but raises :class:`ConsentNotGranted` saying in words what is not allowed; the
    uncovered asset ids go in the error's facts (the body's ``asset_ids``), for support, not in the sentence."""
    decision = check_use(session, scope, asset_ids, at=at)
    if not decision.allowed:
        raise ConsentNotGranted(refusal_in_words(session, scope, decision.uncovered),
                                facts={"scope": scope.value, "asset_ids": list(decision.uncovered)})
    return decision


# "the artist has not allowed <use> <what>": each scope's use in a fan's words.
_USE_IN_WORDS = {
    Scope.remix_preview: "remixing of",
    Scope.download_clip: "clip downloads of",
    Scope.sell_extended: "selling the long version of",
    Scope.train_visual: "training visuals on",
}


def refusal_in_words(session: Session, scope: Scope, asset_ids: Iterable[int]) -> str:
    """Why ``scope`` is refused for ``asset_ids``, naming stems and artwork as a fan knows them, e.g. "the artist
    has not allowed remixing of the tenor and bass stems of “Steam Rising”" (never the assets' ids)."""
    wanted = sorted(set(asset_ids))
    rows = session.execute(
        select(Asset.id, Asset.kind, Asset.stem_name, Asset.title, Track.title.label("track_title"))
        .outerjoin(Track, Track.id == Asset.track_id).where(Asset.id.in_(wanted)).order_by(Asset.id)
    ).all()
    stems_by_track: dict[str, list[str]] = {}
    artwork_titles: list[str] = []
    untitled_artwork = 0
    for row in rows:
        if row.kind == AssetKind.stem:
            stems_by_track.setdefault(row.track_title or "this track", []).append(row.stem_name or "unnamed")
        elif row.title.strip():
            artwork_titles.append(f"“{row.title.strip()}”")
        else:
            untitled_artwork += 1
    things = [f"the {_and_list(names)} stem{'s' if len(names) > 1 else ''} of “{track}”"
              for track, names in stems_by_track.items()]
    if artwork_titles:
        things.append(f"the artwork {_and_list(artwork_titles)}")
    if untitled_artwork:
        things.append("an untitled picture" if untitled_artwork == 1 else f"{untitled_artwork} untitled pictures")
    what = _and_list(things) or "this"
    if scope is Scope.remix_preview and not stems_by_track:
        return f"the artist has not released {what} to fans"
    return f"the artist has not allowed {_USE_IN_WORDS[scope]} {what}"


def _and_list(words: Sequence[str]) -> str:
    """["a", "b", "c"] → "a, b and c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}" if words else ""
