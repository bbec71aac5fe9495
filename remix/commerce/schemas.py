"""Request and response bodies of the commerce API. Money is integer minor units plus an ISO currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from remix.commerce.models import (
    EntitlementStatus,
    OrderStatus,
    PayeeRole,
    SplitSheetStatus,
)


class PayeeIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    artist_id: int | None = Field(default=None, description="Links the payee to an artist's accounts.")
    email: EmailStr | None = None


class PayeeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    artist_id: int | None
    email: str | None


class SplitLineBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    payee_id: int
    role: PayeeRole
    basis_points: int = Field(gt=0, le=10_000, description="Share in 1/100 of a percent; lines sum to 10000.")


class SplitLineOut(SplitLineBody):
    payee_name: str | None = Field(default=None, description="The payee's name, so the artist accepting the "
                                   "sheet sees who is paid (filled where sheets are listed).")


class SplitSheetIn(BaseModel):
    lines: list[SplitLineBody] = Field(min_length=1, max_length=50)
    note: str = Field(default="", max_length=2000)


class SplitSheetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    track_id: int
    version: int
    status: SplitSheetStatus
    created_at: datetime
    accepted_by: int | None
    accepted_at: datetime | None
    approved_by: int | None
    approved_at: datetime | None
    note: str
    lines: list[SplitLineOut]


class SplitSheetRejectIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


class ProductIn(BaseModel):
    price_minor: int = Field(gt=0, description="Price in the currency's minor unit (cents; yen; fils).")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR, JPY, KWD.")
    licence_days: int | None = Field(default=None, gt=0, le=36500, description="Licence term; none = perpetual.")
    terms: str = Field(default="Personal, non-commercial use of this remix.", max_length=5000)
    active: bool = True


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    track_id: int
    product: str
    price_minor: int
    currency: str
    licence_days: int | None
    terms: str
    active: bool


class OfferOut(ProductOut):
    on_sale: bool = Field(description="A fan can buy it now (the same rules as placing an order).")
    not_on_sale_because: str | None = Field(
        default=None, description="Why not, in words: the split sheet is not approved yet, or consent to sell is "
                                  "missing.")


class OrderIn(BaseModel):
    track_id: int
    product: str = Field(default="full_length", max_length=32)
    spec: dict[str, Any] = Field(description="The saved RemixSpec to license (JSON object).")
    payment_method: str | None = Field(
        default=None, max_length=255,
        description="A Stripe PaymentMethod id to confirm with now (e.g. pm_card_visa in test mode); "
                    "without it, confirm in the browser with the returned client_secret.",
    )


class PaymentOut(BaseModel):
    payment_intent_id: str
    status: str
    client_secret: str | None
    error: str | None


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    public_id: str
    track_id: int
    product: str
    spec_hash: str
    amount_minor: int
    currency: str
    split_sheet_id: int
    status: OrderStatus
    payment_intent_id: str | None
    created_at: datetime
    paid_at: datetime | None
    needs_refund: bool
    entitlement: EntitlementStatus | None = None
    licence_number: str | None = None


class PlacedOrderOut(BaseModel):
    order: OrderOut
    payment: PaymentOut | None = Field(description="None when the Idempotency-Key found an earlier order.")


class DownloadUrlOut(BaseModel):
    url: str
    expires_at: datetime


class WebhookOut(BaseModel):
    event_id: str
    status: str = Field(description="processed, deferred, ignored or duplicate")
    note: str = ""


class RefundIn(BaseModel):
    amount_minor: int | None = Field(default=None, gt=0, description="Omit for a full refund.")


class RefundOut(BaseModel):
    refund_id: str
    detail: str


class StatementLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    period: str
    payee_id: int
    payee_name: str
    currency: str
    opening: int
    sales: int
    refunds: int
    disputes: int
    closing: int
    held: int


class PeriodLockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    period: str
    locked_by: int
    locked_at: datetime


class ReconciliationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    ok: bool
    unbalanced_transactions: list[int]
    mixed_currency_transactions: list[int]
    paid_orders_without_one_sale: list[int]
    sales_of_unpaid_orders: list[int]
    clearing_balance: dict[str, int]
    provider_balance: dict[str, int]
    provider_expected: dict[str, int]
    orders_needing_refund: list[str]


# --- read-only reports (finance dashboard, artist console) ---------------------------------------


class RevenueSeriesOut(BaseModel):
    """One chart line: net revenue per period (minor units) of a track or payee, in one currency."""

    key: int = Field(description="The track id or payee id")
    label: str
    currency: str
    total: int
    points: dict[str, int] = Field(description="Period (YYYY-MM) → net minor units in that period")


class SplitSheetForReviewOut(SplitSheetOut):
    track_title: str


class FinanceOrderOut(BaseModel):
    public_id: str
    track_id: int
    track_title: str
    amount_minor: int
    currency: str
    status: OrderStatus
    paid_at: datetime | None
    needs_refund: bool
    entitlement: EntitlementStatus | None
    refunded_minor: int = Field(description="Refunded so far")
    disputed_minor: int = Field(description="Held by an open dispute or lost to one")
    dispute_open: bool


class GrantSaleOut(BaseModel):
    licence_number: str
    track_id: int
    product: str
    spec_hash: str
    issued_at: datetime
    valid_until: datetime | None


class PaymentConfigOut(BaseModel):
    """What the browser needs to take a payment."""

    publishable_key: str | None = Field(description="Stripe publishable key for the Payment Element; None offline")
    test_mode: bool = Field(description="True unless a live secret key (sk_live_…) is configured: no real money")


class GrantModelOut(BaseModel):
    id: int
    status: str


class GrantUsesOut(BaseModel):
    """What relies on one consent grant."""

    grant_id: int
    models: list[GrantModelOut] = Field(description="Visual models trained on artwork this grant allowed")
    renders: dict[str, int] = Field(description="Outputs issued under it, counted by purpose (clip, visual, …)")
    sales: list[GrantSaleOut] = Field(description="Licences sold while it covered the track")
