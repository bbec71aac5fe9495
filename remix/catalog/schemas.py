from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from remix.catalog.models import AssetKind, Scope


class ArtistIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    bio: str = Field(default="", max_length=5000)


class ArtistOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    bio: str


class AlbumIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    year: int | None = Field(default=None, ge=1000, le=3000)


class TrackIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    position: int = Field(ge=1, le=999)
    bpm: float | None = Field(default=None, gt=0, le=400)
    musical_key: str | None = Field(default=None, max_length=16)


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: AssetKind
    artist_id: int
    album_id: int
    track_id: int | None
    stem_name: str | None
    title: str
    caption: str
    original_filename: str
    media_type: str
    sha256: str
    size_bytes: int
    width: int | None
    height: int | None
    sample_rate: int | None
    channels: int | None
    duration_seconds: float | None
    created_at: datetime


class TrackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    album_id: int
    title: str
    position: int
    bpm: float | None
    musical_key: str | None


class TrackDetail(TrackOut):
    stems: list[AssetOut]


class AlbumOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    artist_id: int
    title: str
    year: int | None


class AlbumDetail(AlbumOut):
    artist: ArtistOut
    tracks: list[TrackOut]
    artwork: list[AssetOut]


class GrantIn(BaseModel):
    """Grant one scope on one asset, or on a whole album (all its present and future assets)."""

    scope: Scope
    asset_id: int | None = None
    album_id: int | None = None
    expires_at: datetime | None = Field(default=None, description="ISO 8601 with timezone; none = until revoked")
    terms: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _one_target(self) -> GrantIn:
        if (self.asset_id is None) == (self.album_id is None):
            raise ValueError("give exactly one of asset_id or album_id")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a timezone, e.g. 2027-01-01T00:00:00Z")
        return self


class RevokeIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


class GrantOut(BaseModel):
    id: int
    scope: Scope
    asset_id: int | None
    album_id: int | None
    artist_id: int
    granted_by: int
    granted_at: datetime
    expires_at: datetime | None
    terms: str
    revoked_at: datetime | None
    revoked_by: int | None
    revocation_reason: str | None
    live: bool


class ConsentCheckOut(BaseModel):
    scope: Scope
    at: datetime
    allowed: bool
    grant_for_asset: dict[int, int]
    uncovered: list[int]
