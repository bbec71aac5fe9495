"""Payment-provider settings (prefix ``REMIX_``), kept beside the commerce code that alone reads them."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommerceSettings(BaseSettings):
    """Stripe credentials and endpoints. Use Stripe *test mode* keys (``sk_test_…``) outside production."""

    model_config = SettingsConfigDict(env_prefix="REMIX_", env_file=".env", extra="ignore")

    stripe_api_key: str = Field(default="sk_test_localstripe", description="Stripe secret API key.")
    stripe_webhook_secret: str = Field(
        default="whsec_development_only", description="Signing secret of the webhook endpoint (whsec_…)."
    )
    stripe_publishable_key: str | None = Field(
        default=None, description="Publishable key (pk_test_…/pk_live_…) for the browser's Stripe Payment Element; "
                                  "without it the fan studio offers the labelled test-card path instead.",
    )
    stripe_api_base: str | None = Field(
        default=None, description="Override the Stripe API address (e.g. a localstripe server); None = Stripe."
    )
    webhook_tolerance_seconds: int = Field(default=300, description="Oldest signature timestamp accepted.")
    download_url_ttl_seconds: int = Field(default=15 * 60, description="How long a signed download URL works.")
    render_on_payment: bool = Field(
        default=True, description="Start the long render as soon as a payment commits (else on first download)."
    )
    # Test-only: die after a webhook's postings are written but before they commit (crash-safety test).
    crash_before_commit: bool = Field(default=False, alias="REMIX_TEST_CRASH_BEFORE_WEBHOOK_COMMIT")


@lru_cache
def get_commerce_settings() -> CommerceSettings:
    return CommerceSettings()
