"""Database work for live sessions: who is connecting, what the track offers, consent, prompt rules, snapshots.

Everything here is synchronous and short; the websocket code runs it in worker threads so the event loop
keeps answering every other fan meanwhile. Nothing here commits except :func:`save_snapshot`, which runs
outside any request and owns its transaction.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from remix.audio import service as audio_service
from remix.audio.spec import RemixSpec
from remix.audit import service as audit
from remix.auth.models import Role, User
from remix.auth.service import user_for_token
from remix.catalog import repository as catalog_repository
from remix.catalog.consent import check_use, require_use
from remix.catalog.models import Album, Artist, Asset, Scope, Track
from remix.config import Settings
from remix.errors import NotFound, RemixError
from remix.live.models import LiveSnapshot
from remix.visuals import repository as visuals_repository
from remix.visuals import service as visuals
from remix.visuals.models import VisualModelStatus
from remix.visuals.prompt_rules import judge_prompt

T = TypeVar("T")


@dataclass(frozen=True)
class TrackContext:
    """What a live session needs to know about its track, read once when it opens."""

    track: Track
    stems: list[Asset]
    artist_id: int
    artist_name: str
    duration_seconds: float
    sample_rate: int
    model_id: int | None
    visuals_reason: str  # why there are no visuals (empty when there are)
    album_id: int


def authenticate(factory: sessionmaker[Session], token: str) -> int | None:
    with factory() as session:
        user = user_for_token(session, token)
        return user.id if user is not None else None


def open_track(factory: sessionmaker[Session], track_id: int) -> TrackContext:
    """The track, its stems and its album's live visual model. NotFound if there is nothing to play."""
    with factory() as session:
        track, stems = audio_service.track_stems(session, track_id)
        if not stems:
            raise NotFound(f"track {track_id} has no stems yet; its artist uploads them first")
        album = catalog_repository.get_or_404(session, Album, track.album_id)
        artist = catalog_repository.get_or_404(session, Artist, album.artist_id)
        live = visuals_repository.list_models(session, album_id=album.id, statuses=[VisualModelStatus.live])
        model = live[-1] if live else None
        return TrackContext(
            track=track, stems=list(stems), artist_id=artist.id, artist_name=artist.name,
            duration_seconds=audio_service.track_duration(stems),
            sample_rate=audio_service.render_sample_rate(stems),
            model_id=model.id if model else None, album_id=album.id,
            visuals_reason="" if model else "the artist has not approved visuals for this album yet; "
                                            "the session plays audio only",
        )


def require_preview(factory: sessionmaker[Session], asset_ids: Sequence[int]) -> None:
    """ConsentNotGranted unless a live ``remix_preview`` grant covers every asset (the audible stems); its detail
    names the stems in words, its facts their ids."""
    with factory() as session:
        require_use(session, Scope.remix_preview, asset_ids)


def withheld_artwork(factory: sessionmaker[Session], album_id: int) -> tuple[int, ...]:
    """The album's artwork that fans may not see now (no live ``remix_preview`` grant covers it): pages showing
    it drop it at once (see LiveSession's consent watch)."""
    with factory() as session:
        artwork = [a.id for a in catalog_repository.album_artwork(session, album_id)]
        return check_use(session, Scope.remix_preview, artwork).uncovered


def load_pipeline(factory: sessionmaker[Session], settings: Settings, user_id: int, model_id: int) -> Any:
    """Authorise the model for this user and load its pipeline (verifying its checkpoint); in a worker thread."""
    with factory() as session:
        user = _user(session, user_id)
        model = visuals.authorize_render(session, user, model_id)
        return visuals.pipeline_for(settings, model)


def authorize_model(factory: sessionmaker[Session], user_id: int, model_id: int) -> None:
    """Raise if the model may no longer render for this user (withdrawn, grants lapsed, previews revoked)."""
    with factory() as session:
        visuals.authorize_render(session, _user(session, user_id), model_id)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


@dataclass(frozen=True)
class PromptRulesFacts:
    own_artist: str
    other_artists: list[str]
    blocked_words: list[str]

    def refusal(self, prompt: str) -> str | None:
        """The reason ``prompt`` is refused, or None; the same rules as :func:`remix.visuals.service.check_prompt`."""
        verdict = judge_prompt(prompt, own_artist=self.own_artist, other_artists=self.other_artists,
                               blocked_words=self.blocked_words)
        return None if verdict.allowed else verdict.reason


def prompt_rules(factory: sessionmaker[Session], artist_id: int) -> PromptRulesFacts:
    with factory() as session:
        own = catalog_repository.get_or_404(session, Artist, artist_id).name
        rules = visuals_repository.prompt_rules(session, artist_id)
        return PromptRulesFacts(own_artist=own, other_artists=list(visuals_repository.artist_names(session)),
                                blocked_words=list(json.loads(rules.blocked_words)) if rules else [])


def save_snapshot(factory: sessionmaker[Session], user_id: int, track_id: int, spec: RemixSpec, *, title: str,
                  prompt: str, model_id: int | None) -> LiveSnapshot:
    with factory.begin() as session:
        snapshot = LiveSnapshot(user_id=user_id, track_id=track_id, title=title.strip(),
                                spec_json=spec.canonical_json(), spec_hash=spec.spec_hash, prompt=prompt,
                                visual_model_id=model_id)
        session.add(snapshot)
        session.flush()
        audit.record(session, "live.snapshot_saved", "track", track_id, actor_user_id=user_id,
                     snapshot_id=snapshot.id, spec_hash=snapshot.spec_hash, visual_model_id=model_id)
        session.refresh(snapshot)
        session.expunge(snapshot)
        return snapshot


def list_snapshots(session: Session, user: User, track_id: int | None) -> Sequence[LiveSnapshot]:
    query = select(LiveSnapshot).order_by(LiveSnapshot.id)
    if user.role != Role.admin:
        query = query.where(LiveSnapshot.user_id == user.id)
    if track_id is not None:
        query = query.where(LiveSnapshot.track_id == track_id)
    return session.execute(query).scalars().all()


def get_snapshot(session: Session, user: User, snapshot_id: int) -> LiveSnapshot:
    snapshot = session.get(LiveSnapshot, snapshot_id)
    if snapshot is None or (snapshot.user_id != user.id and user.role != Role.admin):
        raise NotFound(f"snapshot {snapshot_id} does not exist")
    return snapshot


class TTLCache:
    """Answers of slow checks shared by every session for ``ttl`` seconds (500 fans on one track → one query).

    Refusals are cached too, so a revocation is noticed by every session within ``ttl`` seconds.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, Any, RemixError | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, value)`` if a fresh answer is cached (re-raising a cached refusal), else ``(False, None)``:
        lets the event loop skip a thread hop when nothing needs asking."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return False, None
        if entry[2] is not None:
            raise entry[2]
        return True, entry[1]

    def get(self, key: Hashable, compute: Callable[[], T], *, fresh: bool = False) -> T:
        """``compute()``'s value (or the RemixError it raised, re-raised), at most ``ttl`` seconds old."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or fresh or now - entry[0] > self.ttl:
            try:
                value, error = compute(), None
            except RemixError as exc:
                value, error = None, exc
            entry = (now, value, error)
            with self._lock:
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[key] = entry
        if entry[2] is not None:
            raise entry[2]
        return entry[1]  # type: ignore[return-value]
