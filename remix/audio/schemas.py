"""What the audio API returns about a track's stems (facts only: stem audio never leaves the server)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remix.catalog.models import Scope


class StemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    asset_id: int
    name: str
    media_type: str
    sha256: str
    size_bytes: int
    sample_rate: int | None
    channels: int | None
    duration_seconds: float | None
    allowed: dict[Scope, bool] = Field(description="Whether a live grant covers each audio use of this stem now")


class RenderLimits(BaseModel):
    preview_max_seconds: float = Field(description="Longest preview chunk, in seconds of output")
    free_clip_max_seconds: float = Field(description="Longest free clip, in seconds of output (tempo and loops count)")


class TrackStemsOut(BaseModel):
    track_id: int
    title: str
    duration_seconds: float = Field(description="Length of the longest stem: excerpt windows must end by then")
    limits: RenderLimits
    stems: list[StemOut]
