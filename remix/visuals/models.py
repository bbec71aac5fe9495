"""Visual models, the artwork (and grants) each was trained on, and each artist's prompt rules."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remix.db import Base, UTCDateTime, utcnow


class VisualModelStatus(enum.StrEnum):
    """training → awaiting_approval → live, or failed / rejected; any model whose grants lapse → withdrawn."""

    training = "training"
    failed = "failed"
    awaiting_approval = "awaiting_approval"
    live = "live"
    rejected = "rejected"
    withdrawn = "withdrawn"


# The only moves a model's status may make; anything else is a bug or a stale request (409).
ALLOWED_TRANSITIONS: dict[VisualModelStatus, frozenset[VisualModelStatus]] = {
    VisualModelStatus.training: frozenset(
        {VisualModelStatus.awaiting_approval, VisualModelStatus.failed, VisualModelStatus.withdrawn}
    ),
    VisualModelStatus.awaiting_approval: frozenset(
        {VisualModelStatus.live, VisualModelStatus.rejected, VisualModelStatus.withdrawn}
    ),
    VisualModelStatus.live: frozenset({VisualModelStatus.withdrawn}),
    VisualModelStatus.failed: frozenset(),
    VisualModelStatus.rejected: frozenset(),
    VisualModelStatus.withdrawn: frozenset(),
}


class VisualBase(enum.StrEnum):
    builtin = "builtin"  # trained from scratch on the approved artwork alone
    lora = "lora"  # a LoRA adapter on an operator-supplied, licensed diffusers pipeline


class VisualModel(Base):
    """One training run for one album and the model it produced."""

    __tablename__ = "visual_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), index=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id"), index=True)
    base: Mapped[VisualBase] = mapped_column(Enum(VisualBase, native_enum=False, length=16))
    preset: Mapped[str] = mapped_column(String(32))
    status: Mapped[VisualModelStatus] = mapped_column(Enum(VisualModelStatus, native_enum=False, length=32),
                                                      index=True)
    seed: Mapped[int] = mapped_column(Integer)
    steps_total: Mapped[int] = mapped_column(Integer)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    manifest_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    sources: Mapped[list[VisualModelSource]] = relationship(order_by="VisualModelSource.asset_id", lazy="selectin")

    @property
    def progress(self) -> float:
        return round(self.steps_done / self.steps_total, 4) if self.steps_total else 0.0

    @property
    def grant_ids(self) -> list[int]:
        return sorted({s.grant_id for s in self.sources})


class VisualModelSource(Base):
    """One artwork a model was trained on, its hash then, and the train_visual grant that allowed it."""

    __tablename__ = "visual_model_sources"
    __table_args__ = (UniqueConstraint("model_id", "asset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("visual_models.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    grant_id: Mapped[int] = mapped_column(ForeignKey("consent_grants.id"), index=True)
    asset_sha256: Mapped[str] = mapped_column(String(64))
    caption: Mapped[str] = mapped_column(Text, default="")


class PromptRules(Base):
    """Words an artist never wants in a prompt for their models (matched as whole words, any case)."""

    __tablename__ = "artist_prompt_rules"

    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), primary_key=True)
    blocked_words: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
