"""Saved live states: a fan's snapshot of the mix (as a full RemixSpec) and prompt at one moment."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from remix.db import Base, UTCDateTime, utcnow


class LiveSnapshot(Base):
    """A RemixSpec saved from a live session; rendering it later (clip or paid version) gives the same audio."""

    __tablename__ = "live_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    spec_json: Mapped[str] = mapped_column(Text)  # the canonical JSON of the RemixSpec
    spec_hash: Mapped[str] = mapped_column(String(64), index=True)
    prompt: Mapped[str] = mapped_column(Text, default="")
    visual_model_id: Mapped[int | None] = mapped_column(ForeignKey("visual_models.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def spec(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.spec_json)
        return data
