"""Artists, albums, tracks, assets and the consent grants that cover them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remix.db import Base, UTCDateTime, utcnow


class AssetKind(enum.StrEnum):
    artwork = "artwork"
    stem = "stem"


class Scope(enum.StrEnum):
    """The named uses an artist can grant."""

    train_visual = "train_visual"
    remix_preview = "remix_preview"
    download_clip = "download_clip"
    sell_extended = "sell_extended"


class Artist(Base):
    __tablename__ = "artists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    bio: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    albums: Mapped[list[Album]] = relationship(back_populates="artist", order_by="Album.id")


class Album(Base):
    __tablename__ = "albums"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    artist: Mapped[Artist] = relationship(back_populates="albums")
    tracks: Mapped[list[Track]] = relationship(back_populates="album", order_by="Track.position")
    assets: Mapped[list[Asset]] = relationship(back_populates="album", order_by="Asset.id")


class Track(Base):
    __tablename__ = "tracks"
    __table_args__ = (UniqueConstraint("album_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer)
    bpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    musical_key: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    album: Mapped[Album] = relationship(back_populates="tracks")
    stems: Mapped[list[Asset]] = relationship(back_populates="track", order_by="Asset.id")


class Asset(Base):
    """An artwork image or an audio stem, stored by content hash, with facts read by decoding it."""

    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint("(kind = 'stem') = (track_id IS NOT NULL)", name="stem_has_track"),
        UniqueConstraint("track_id", "stem_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[AssetKind] = mapped_column(Enum(AssetKind, native_enum=False, length=16))
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), index=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id"), index=True)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id"), nullable=True, index=True)
    stem_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    caption: Mapped[str] = mapped_column(Text, default="")
    original_filename: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sample_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    album: Mapped[Album] = relationship(back_populates="assets")
    track: Mapped[Track | None] = relationship(back_populates="stems")


class ConsentGrant(Base):
    """Permission for one named use of one asset or a whole album. Never edited once written."""

    __tablename__ = "consent_grants"
    __table_args__ = (
        CheckConstraint("(asset_id IS NULL) != (album_id IS NULL)", name="asset_xor_album"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[Scope] = mapped_column(Enum(Scope, native_enum=False, length=32))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), nullable=True, index=True)
    album_id: Mapped[int | None] = mapped_column(ForeignKey("albums.id"), nullable=True, index=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), index=True)
    granted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    terms: Mapped[str] = mapped_column(Text, default="")

    revocation: Mapped[ConsentRevocation | None] = relationship(lazy="selectin", uselist=False)


class ConsentRevocation(Base):
    """The fact that a grant was withdrawn; it takes effect at ``revoked_at``."""

    __tablename__ = "consent_revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("consent_grants.id"), unique=True)
    revoked_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
