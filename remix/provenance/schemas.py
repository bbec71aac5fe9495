"""What the verify endpoints answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Verdict(StrEnum):
    licensed_render = "licensed_render"  # our watermark/manifest names a render we issued
    tampered = "tampered"  # a manifest is present but the file or manifest changed after signing
    forged_watermark = "forged_watermark"  # a watermark id that names no render we issued
    untrusted_manifest = "untrusted_manifest"  # a Remix-style manifest signed by someone else
    suspected_unlicensed_copy = "suspected_unlicensed_copy"  # matches the catalog, no valid watermark
    not_from_this_service = "not_from_this_service"


class ConsentStatus(StrEnum):
    current = "current"  # every grant relied on is still live
    revoked_since_render = "revoked_since_render"  # licensed at render time; consent since revoked
    expired_since_render = "expired_since_render"


class WatermarkReport(BaseModel):
    found: bool
    watermark_id: int | None = None
    names_a_render: bool = False
    detail: dict[str, Any] = Field(default_factory=dict)


class ManifestReport(BaseModel):
    kind: str = Field(description="c2pa, sidecar or none")
    state: str = Field(description="trusted, valid_untrusted, tampered or absent")
    problems: list[str] = Field(default_factory=list)


class CatalogMatchReport(BaseModel):
    track_id: int
    track_title: str
    offset_seconds: float
    similarity: float
    bit_error_rate: float
    overlap_seconds: float


class RenderReport(BaseModel):
    render_id: str
    kind: str
    purpose: str
    issued_at: datetime
    user_id: int | None
    track_id: int | None
    album_id: int | None
    spec_hash: str | None
    model_id: int | None
    training_manifest_hash: str | None
    grant_ids: list[int]
    licence_id: int | None
    output_sha256: str
    exact_file: bool = Field(description="the upload is byte-for-byte the file we issued")


class VerificationReport(BaseModel):
    """Full answer for the rights team."""

    verdict: Verdict
    summary: str
    file_sha256: str
    media_kind: str
    media_format: str
    watermark: WatermarkReport
    manifest: ManifestReport
    render: RenderReport | None = None
    consent: ConsentStatus | None = None
    consent_detail: str | None = None
    takedown_eligible: bool
    catalog_matches: list[CatalogMatchReport] = Field(default_factory=list)
    evidence: dict[str, Any] | None = Field(default=None, description="JSON a takedown notice can cite")
    checked_at: datetime
    service_version: str


class PublicVerificationReport(BaseModel):
    """Answer for anyone: is this an authentic, licensed output of the service?"""

    verdict: Verdict
    summary: str
    file_sha256: str
    render_id: str | None = None
    issued_at: datetime | None = None
    licensed: bool = Field(description="a paid licence covers this render")
    consent: ConsentStatus | None = None
    manifest_state: str
    matched_track_title: str | None = None
    checked_at: datetime


class FingerprintResult(BaseModel):
    track_id: int
    track_title: str
    duration_seconds: float
    items: int
    recomputed: bool
