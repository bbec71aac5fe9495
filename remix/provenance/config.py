"""Provenance settings (prefix ``REMIX_PROVENANCE_``), kept apart from the service-wide :class:`Settings`.

By default a local certificate authority and a signing certificate are generated on first use under
``<data_dir>/provenance/``: good for development and the demo, and C2PA readers elsewhere will call
such manifests "valid but untrusted". A production deployment sets ``REMIX_PROVENANCE_SIGNING_CERT``
(PEM chain, leaf first), ``REMIX_PROVENANCE_SIGNING_KEY`` (PEM PKCS#8, EC P-256 for ES256) and
``REMIX_PROVENANCE_TRUST_ANCHORS`` (the PEM roots its verifier trusts) to a certificate issued by a
CA on the C2PA trust list.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from remix.config import Settings


class ProvenanceSettings(BaseSettings):
    """Where signing credentials come from, and how strict catalog matching is."""

    model_config = SettingsConfigDict(env_prefix="REMIX_PROVENANCE_", env_file=".env", extra="ignore")

    directory: Path | None = Field(default=None, description="Default: <data_dir>/provenance.")
    signing_cert: Path | None = Field(default=None, description="PEM certificate chain, leaf first.")
    signing_key: Path | None = Field(default=None, description="PEM private key of the leaf (EC P-256).")
    trust_anchors: Path | None = Field(default=None, description="PEM roots trusted when verifying.")
    timestamp_url: str | None = Field(default=None, description="RFC 3161 time-stamp authority, if any.")
    fingerprint_max_bit_error: float = Field(
        default=0.30, description="Chromaprint bit error rate at or below which a file matches a catalog track."
    )
    fingerprint_min_overlap_seconds: float = Field(default=6.0, description="Shortest excerpt that can match.")

    def directory_for(self, settings: Settings) -> Path:
        return self.directory or settings.data_dir / "provenance"


def provenance_settings() -> ProvenanceSettings:
    return ProvenanceSettings()
