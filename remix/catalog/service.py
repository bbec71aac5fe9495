"""Catalog rules: who may change what, upload validation, and consent grants and revocations.

Every change is written to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remix.audit import service as audit
from remix.auth.deps import ensure_acts_for
from remix.auth.models import User
from remix.catalog import repository
from remix.catalog.consent import grant_is_live
from remix.catalog.media import inspect_audio, inspect_image
from remix.catalog.models import (
    Album,
    Artist,
    Asset,
    AssetKind,
    ConsentGrant,
    ConsentRevocation,
    Scope,
    Track,
)
from remix.catalog.storage import AssetStore, KeptFile
from remix.config import Settings
from remix.db import on_rollback, utcnow
from remix.errors import BadRequest, Conflict
from remix.scale.live_events import announce_after_commit

STEM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_FILENAME_CHARS = 300  # Asset.original_filename
SIMPLE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")


@dataclass(frozen=True)
class Upload:
    """A file as received: its stream, the client's file name and content type."""

    stream: BinaryIO
    filename: str
    content_type: str | None


def create_artist(session: Session, actor: User, name: str, bio: str) -> Artist:
    if repository.artist_by_name(session, name) is not None:
        raise Conflict(f"an artist named '{name}' already exists")
    artist = Artist(name=name, bio=bio)
    session.add(artist)
    session.flush()
    audit.record(session, "artist.created", "artist", artist.id, actor_user_id=actor.id, name=name)
    return artist


def create_album(session: Session, actor: User, artist_id: int, title: str, year: int | None) -> Album:
    repository.get_or_404(session, Artist, artist_id)
    ensure_acts_for(actor, artist_id)
    album = Album(artist_id=artist_id, title=title, year=year)
    session.add(album)
    session.flush()
    audit.record(session, "album.created", "album", album.id, actor_user_id=actor.id,
                 artist_id=artist_id, title=title)
    return album


def create_track(session: Session, actor: User, album_id: int, title: str, position: int,
                 bpm: float | None, musical_key: str | None) -> Track:
    album = repository.get_or_404(session, Album, album_id)
    ensure_acts_for(actor, album.artist_id)
    if repository.track_at(session, album_id, position) is not None:
        raise Conflict(f"album {album_id} already has a track at position {position}")
    track = Track(album_id=album_id, title=title, position=position, bpm=bpm, musical_key=musical_key)
    session.add(track)
    session.flush()
    audit.record(session, "track.created", "track", track.id, actor_user_id=actor.id,
                 album_id=album_id, title=title, position=position)
    return track


def _staging_suffix(upload: Upload) -> str:
    """The claimed extension, checked to be storable; only the temp file wears it (the media check judges it)."""
    if len(upload.filename) > MAX_FILENAME_CHARS:
        raise BadRequest(f"file name is {len(upload.filename)} characters long; at most {MAX_FILENAME_CHARS}, "
                         "rename the file")
    suffix = Path(upload.filename).suffix.lower()
    # A long or odd extension would make an invalid temp file name; the media check refuses it anyway.
    return suffix if SIMPLE_SUFFIX.match(suffix) else ""


def _committed_use(bind: Engine | Connection, key: str) -> bool:
    with Session(bind) as fresh:
        return repository.asset_with_storage_key(fresh, key) is not None


def _store_asset(session: Session, store: AssetStore, asset: Asset, kept: KeptFile) -> Asset:
    """Insert the row. The file is content-addressed and may be shared with identical uploads (committed or
    in flight): if this transaction rolls back, it is deleted only when nothing else uses it."""
    asset.storage_key = kept.key
    bind = session.get_bind()
    on_rollback(session, lambda: store.discard_unless_used(kept, lambda: _committed_use(bind, kept.key)))
    event.listen(session, "after_commit", lambda _session: store.release(kept), once=True)
    try:
        session.add(asset)
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"could not save the asset: {exc.orig}") from exc
    return asset


def upload_artwork(session: Session, settings: Settings, actor: User, album_id: int, upload: Upload,
                   title: str, caption: str) -> Asset:
    """Decode and store an artwork image for an album. Refused files leave nothing behind."""
    album = repository.get_or_404(session, Album, album_id)
    ensure_acts_for(actor, album.artist_id)
    store = AssetStore(settings.asset_dir)
    with store.staged(upload.stream, max_bytes=settings.max_image_bytes,
                      suffix=_staging_suffix(upload)) as staged:
        facts = inspect_image(staged.path, upload.filename, upload.content_type,
                              max_pixels=settings.max_image_pixels)
        kept = store.keep(staged, facts.suffix)
    asset = Asset(kind=AssetKind.artwork, artist_id=album.artist_id, album_id=album.id, track_id=None,
                  title=title or Path(upload.filename).stem, caption=caption,
                  original_filename=upload.filename, media_type=facts.media_type, sha256=staged.sha256,
                  size_bytes=staged.size_bytes, width=facts.width, height=facts.height, uploaded_by=actor.id)
    _store_asset(session, store, asset, kept)
    audit.record(session, "asset.uploaded", "asset", asset.id, actor_user_id=actor.id, kind="artwork",
                 album_id=album.id, sha256=asset.sha256, size_bytes=asset.size_bytes)
    return asset


def upload_stem(session: Session, settings: Settings, actor: User, track_id: int, upload: Upload,
                stem_name: str) -> Asset:
    """Decode and store one stem of a track (lossless WAV or FLAC)."""
    track = repository.get_or_404(session, Track, track_id)
    album = track.album
    ensure_acts_for(actor, album.artist_id)
    if not STEM_NAME.match(stem_name):
        raise BadRequest("stem_name must be 1-32 lowercase letters, digits, '-' or '_', e.g. 'drums'")
    if repository.stem_named(session, track_id, stem_name) is not None:
        raise Conflict(f"track {track_id} already has a stem named '{stem_name}'")
    store = AssetStore(settings.asset_dir)
    with store.staged(upload.stream, max_bytes=settings.max_audio_bytes,
                      suffix=_staging_suffix(upload)) as staged:
        facts = inspect_audio(staged.path, upload.filename, upload.content_type,
                              max_seconds=settings.max_audio_seconds)
        kept = store.keep(staged, facts.suffix)
    asset = Asset(kind=AssetKind.stem, artist_id=album.artist_id, album_id=album.id, track_id=track.id,
                  stem_name=stem_name, title=f"{track.title} — {stem_name}", caption="",
                  original_filename=upload.filename, media_type=facts.media_type, sha256=staged.sha256,
                  size_bytes=staged.size_bytes, sample_rate=facts.sample_rate, channels=facts.channels,
                  duration_seconds=facts.duration_seconds, uploaded_by=actor.id)
    _store_asset(session, store, asset, kept)
    audit.record(session, "asset.uploaded", "asset", asset.id, actor_user_id=actor.id, kind="stem",
                 track_id=track.id, stem_name=stem_name, sha256=asset.sha256, size_bytes=asset.size_bytes)
    return asset


def grant_consent(session: Session, actor: User, scope: Scope, *, asset_id: int | None,
                  album_id: int | None, expires_at: datetime | None, terms: str) -> ConsentGrant:
    """Record a new grant. Only the artist's own accounts (or an admin) may grant."""
    if asset_id is not None:
        asset = repository.get_or_404(session, Asset, asset_id)
        artist_id = asset.artist_id
    else:
        album = repository.get_or_404(session, Album, album_id or 0)
        artist_id = album.artist_id
    ensure_acts_for(actor, artist_id)
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise BadRequest("expires_at is in the past; a grant must expire in the future")
    grant = ConsentGrant(scope=scope, asset_id=asset_id, album_id=album_id, artist_id=artist_id,
                         granted_by=actor.id, granted_at=now, expires_at=expires_at, terms=terms)
    session.add(grant)
    session.flush()
    audit.record(session, "consent.granted", "consent_grant", grant.id, actor_user_id=actor.id,
                 scope=scope.value, asset_id=asset_id, album_id=album_id, artist_id=artist_id,
                 expires_at=expires_at.isoformat() if expires_at else None)
    return grant


def revoke_consent(session: Session, actor: User, grant_id: int, reason: str) -> ConsentGrant:
    """Withdraw a grant from now on. A grant is revoked at most once; the grant row is never edited."""
    grant = repository.get_or_404(session, ConsentGrant, grant_id)
    ensure_acts_for(actor, grant.artist_id)
    if grant.revocation is not None:
        raise Conflict(f"grant {grant_id} was already revoked at {grant.revocation.revoked_at.isoformat()}")
    revocation = ConsentRevocation(grant_id=grant.id, revoked_by=actor.id, revoked_at=utcnow(), reason=reason)
    session.add(revocation)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent revoke won
        raise Conflict(f"grant {grant_id} was already revoked") from exc
    session.refresh(grant)
    audit.record(session, "consent.revoked", "consent_grant", grant.id, actor_user_id=actor.id,
                 scope=grant.scope.value, reason=reason)
    # Models trained under this grant are withdrawn in the same transaction as the revocation.
    # (Imported here: visuals depends on the catalog, not the other way round.)
    from remix.visuals.service import withdraw_models_for_grant

    withdraw_models_for_grant(session, grant.id, actor_user_id=actor.id)
    # Live sessions on every API process re-check consent as soon as this commits (production mode).
    announce_after_commit(session, "consent_revoked", grant_id=grant.id)
    return grant


def describe_grant(grant: ConsentGrant) -> dict[str, object]:
    rev = grant.revocation
    return {
        "id": grant.id, "scope": grant.scope, "asset_id": grant.asset_id, "album_id": grant.album_id,
        "artist_id": grant.artist_id, "granted_by": grant.granted_by, "granted_at": grant.granted_at,
        "expires_at": grant.expires_at, "terms": grant.terms,
        "revoked_at": rev.revoked_at if rev else None, "revoked_by": rev.revoked_by if rev else None,
        "revocation_reason": rev.reason if rev else None, "live": grant_is_live(grant, utcnow()),
    }
