"""What the service remembers about each output it issued, and each catalog track's fingerprint."""

from __future__ import annotations

import enum
import json
from datetime import datetime

from sqlalchemy import BigInteger, Enum, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from remix.db import Base, UTCDateTime, utcnow


class RenderKind(enum.StrEnum):
    audio = "audio"
    image = "image"


class Render(Base):
    """One issued output (clip, paid render, visual, preview frame): the facts its watermark points to.

    Rows are never changed once written: what was licensed at render time stays provable even after
    consent is revoked (verification then reports both facts).
    """

    __tablename__ = "provenance_renders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    watermark_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[RenderKind] = mapped_column(Enum(RenderKind, native_enum=False, length=16))
    purpose: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id"), nullable=True, index=True)
    album_id: Mapped[int | None] = mapped_column(ForeignKey("albums.id"), nullable=True, index=True)
    spec_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    training_manifest_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    grant_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    licence_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    output_format: Mapped[str] = mapped_column(String(16))
    output_sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    manifest_kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def grant_ids(self) -> list[int]:
        return [int(g) for g in json.loads(self.grant_ids_json)]


class CatalogFingerprint(Base):
    """The Chromaprint fingerprint of one track's full mix (all its stems summed)."""

    __tablename__ = "catalog_fingerprints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), unique=True)
    stems_digest: Mapped[str] = mapped_column(String(64))
    duration_seconds: Mapped[float] = mapped_column(Float)
    fingerprint_json: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
