"""All catalog SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from remix.catalog.models import Album, Artist, Asset, AssetKind, ConsentGrant, Track
from remix.db import MAX_INTEGER_ID
from remix.errors import NotFound

T = TypeVar("T")


def get_or_404(session: Session, model: type[T], ident: int) -> T:
    row = session.get(model, ident) if 0 < ident <= MAX_INTEGER_ID else None
    if row is None:
        raise NotFound(f"{model.__name__.lower()} {ident} does not exist")
    return row


def list_artists(session: Session) -> Sequence[Artist]:
    return session.execute(select(Artist).order_by(Artist.id)).scalars().all()


def artist_by_name(session: Session, name: str) -> Artist | None:
    return session.execute(select(Artist).where(Artist.name == name)).scalar_one_or_none()


def list_albums(session: Session, artist_id: int | None = None) -> Sequence[Album]:
    q = select(Album).order_by(Album.id)
    if artist_id is not None:
        q = q.where(Album.artist_id == artist_id)
    return session.execute(q).scalars().all()


def track_at(session: Session, album_id: int, position: int) -> Track | None:
    return session.execute(
        select(Track).where(Track.album_id == album_id, Track.position == position)
    ).scalar_one_or_none()


def stem_named(session: Session, track_id: int, stem_name: str) -> Asset | None:
    return session.execute(
        select(Asset).where(Asset.track_id == track_id, Asset.stem_name == stem_name)
    ).scalar_one_or_none()


def album_artwork(session: Session, album_id: int) -> Sequence[Asset]:
    return session.execute(
        select(Asset).where(Asset.album_id == album_id, Asset.kind == AssetKind.artwork).order_by(Asset.id)
    ).scalars().all()


def grants_for_album(session: Session, album_id: int) -> Sequence[ConsentGrant]:
    """Grants on the album itself and on any of its assets, oldest first."""
    asset_ids = select(Asset.id).where(Asset.album_id == album_id)
    return session.execute(
        select(ConsentGrant)
        .where((ConsentGrant.album_id == album_id) | ConsentGrant.asset_id.in_(asset_ids))
        .order_by(ConsentGrant.id)
    ).scalars().all()


def grants_for_artist(session: Session, artist_ids: set[int] | None) -> Sequence[ConsentGrant]:
    q = select(ConsentGrant).order_by(ConsentGrant.id)
    if artist_ids is not None:
        q = q.where(ConsentGrant.artist_id.in_(artist_ids))
    return session.execute(q).scalars().all()


def asset_with_storage_key(session: Session, storage_key: str) -> Asset | None:
    return session.scalars(select(Asset).where(Asset.storage_key == storage_key).limit(1)).first()
