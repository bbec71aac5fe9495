"""Commerce HTTP API: split sheets, prices, orders, downloads, the Stripe webhook, finance and statements."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse, Response

from remix.auth.deps import ArtistUser, CurrentUser, FinanceUser, ensure_acts_for
from remix.auth.models import Role
from remix.catalog import repository as catalog_repository
from remix.catalog.models import ConsentGrant, Track
from remix.commerce import (
    entitlements,
    group_commit,
    orders,
    renders,
    reports,
    repository,
    splits,
    statements,
    webhooks,
)
from remix.commerce.config import CommerceSettings, get_commerce_settings
from remix.commerce.fulfilment import licence_number
from remix.commerce.gateway import PaymentProviderUnavailable, StripeGateway
from remix.commerce.models import EntitlementStatus, Order, SplitSheet, SplitSheetStatus
from remix.commerce.schemas import (
    DownloadUrlOut,
    FinanceOrderOut,
    GrantModelOut,
    GrantSaleOut,
    GrantUsesOut,
    OfferOut,
    OrderIn,
    OrderOut,
    PayeeIn,
    PayeeOut,
    PaymentConfigOut,
    PaymentOut,
    PeriodLockOut,
    PlacedOrderOut,
    ProductIn,
    ProductOut,
    ReconciliationOut,
    RefundIn,
    RefundOut,
    RevenueSeriesOut,
    SplitSheetForReviewOut,
    SplitSheetIn,
    SplitSheetOut,
    SplitSheetRejectIn,
    StatementLineOut,
    WebhookOut,
)
from remix.config import Settings
from remix.db import SessionDep
from remix.errors import (
    BadRequest,
    Conflict,
    ConsentNotGranted,
    Forbidden,
    NotFound,
    Unauthorized,
    error_responses,
)

router = APIRouter(prefix="/api", tags=["commerce"])
finance_router = APIRouter(prefix="/api/finance", tags=["finance"])

READ_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)
WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, BadRequest)


async def commerce_settings(request: Request) -> CommerceSettings:
    """The app's commerce settings (tests set ``app.state.commerce_settings``), else the environment's.
    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency on a worker thread, a
    thread hand-off per request for two attribute reads (``get_commerce_settings`` is cached)."""
    found: CommerceSettings | None = getattr(request.app.state, "commerce_settings", None)
    return found or get_commerce_settings()


CommerceSettingsDep = Annotated[CommerceSettings, Depends(commerce_settings)]


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def raw_body(request: Request) -> bytes:
    return await request.body()


# --- payees, split sheets, products --------------------------------------------------------------


@finance_router.post("/payees", response_model=PayeeOut, status_code=201, responses=WRITE_ERRORS)
def create_payee(body: PayeeIn, session: SessionDep, user: FinanceUser) -> object:
    """Register a payee (artist, label, songwriter, platform …) that split sheets can pay."""
    return splits.create_payee(session, user, body.name, body.artist_id, body.email)


@finance_router.get("/payees", response_model=list[PayeeOut], responses=READ_ERRORS)
def list_payees(session: SessionDep, _: FinanceUser) -> object:
    """All payees."""
    return repository.payees(session)


@router.post("/tracks/{track_id}/split-sheets", response_model=SplitSheetOut, status_code=201,
             responses=WRITE_ERRORS)
def propose_split_sheet(track_id: int, body: SplitSheetIn, session: SessionDep, user: CurrentUser) -> SplitSheet:
    """Propose a new version of a track's split sheet (finance, or the track's artist). Basis points must sum
    to 10000. The artist then accepts it and finance approves it; only then does it govern new sales."""
    lines = [splits.SplitLineIn(x.payee_id, x.role, x.basis_points) for x in body.lines]
    return splits.propose_split_sheet(session, user, track_id, lines, body.note)


@router.get("/tracks/{track_id}/split-sheets", response_model=list[SplitSheetOut], responses=READ_ERRORS)
def list_split_sheets(track_id: int, session: SessionDep, user: CurrentUser) -> list[SplitSheetOut]:
    """Every version of a track's split sheet (finance and the track's artist), each line naming its payee."""
    names = {payee.id: payee.name for payee in repository.payees(session)}
    sheets = [SplitSheetOut.model_validate(sheet) for sheet in splits.visible_split_sheets(session, user, track_id)]
    for sheet in sheets:
        for line in sheet.lines:
            line.payee_name = names.get(line.payee_id)
    return sheets


@router.post("/split-sheets/{sheet_id}/accept", response_model=SplitSheetOut, responses=WRITE_ERRORS)
def accept_split_sheet(sheet_id: int, session: SessionDep, user: ArtistUser) -> SplitSheet:
    """The track's artist accepts a proposed split sheet version."""
    return splits.accept_split_sheet(session, user, sheet_id)


@router.post("/split-sheets/{sheet_id}/approve", response_model=SplitSheetOut, responses=WRITE_ERRORS)
def approve_split_sheet(sheet_id: int, session: SessionDep, user: FinanceUser) -> SplitSheet:
    """Finance approves an accepted version: sales of the track open (or continue) under it."""
    return splits.approve_split_sheet(session, user, sheet_id)


@router.post("/split-sheets/{sheet_id}/reject", response_model=SplitSheetOut, responses=WRITE_ERRORS)
def reject_split_sheet(sheet_id: int, body: SplitSheetRejectIn, session: SessionDep, user: CurrentUser) -> SplitSheet:
    """The artist or finance rejects a version that is not approved yet."""
    return splits.reject_split_sheet(session, user, sheet_id, body.reason)


@router.put("/tracks/{track_id}/products/{product}", response_model=ProductOut, responses=WRITE_ERRORS)
def set_product(track_id: int, product: str, body: ProductIn, session: SessionDep, user: CurrentUser) -> object:
    """Set the price (integer minor units + ISO currency) and licence terms of a track's product."""
    return splits.set_product(session, user, track_id, product, body.price_minor, body.currency, body.licence_days,
                              body.terms, body.active)


@router.get("/tracks/{track_id}/products", response_model=list[OfferOut], responses=READ_ERRORS)
def list_products(track_id: int, session: SessionDep, _: CurrentUser) -> list[OfferOut]:
    """What a track offers, at what price, and whether it can be bought now (``on_sale``; if not,
    ``not_on_sale_because`` says why)."""
    return [OfferOut(**ProductOut.model_validate(offer.product).model_dump(), on_sale=offer.on_sale,
                     not_on_sale_because=offer.not_on_sale_because)
            for offer in orders.offers_for_track(session, track_id)]


# --- orders and downloads -------------------------------------------------------------------------


def _order_out(session: SessionDep, order: Order) -> OrderOut:
    out = OrderOut.model_validate(order)
    entitlement = repository.entitlement_for_order(session, order.id)
    if entitlement is not None:
        out.entitlement = entitlement.status
        out.licence_number = licence_number(order)
    return out


@router.post("/orders", response_model=PlacedOrderOut, status_code=201,
             responses=error_responses(Unauthorized, NotFound, Conflict, BadRequest, ConsentNotGranted,
                                       PaymentProviderUnavailable))
def place_order(
    body: OrderIn,
    session: SessionDep,
    user: CurrentUser,
    cs: CommerceSettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> PlacedOrderOut:
    """Buy a licensed long version of a saved remix spec. Creates the Stripe PaymentIntent; the order is
    fulfilled only when Stripe's signed webhook confirms the payment. Send an ``Idempotency-Key`` header to
    make retries safe: the same key returns the same order."""
    placed = orders.place_order(session, StripeGateway(cs), user, body.track_id, body.product, body.spec,
                                body.payment_method, idempotency_key)
    payment = None
    if placed.payment is not None:
        payment = PaymentOut(payment_intent_id=placed.payment.payment_intent_id, status=placed.payment.status,
                             client_secret=placed.payment.client_secret, error=placed.payment.error)
    return PlacedOrderOut(order=_order_out(session, placed.order), payment=payment)


@router.get("/orders", response_model=list[OrderOut], responses=READ_ERRORS)
def list_my_orders(session: SessionDep, user: CurrentUser) -> list[OrderOut]:
    """Your orders, oldest first, with the state of their entitlements."""
    return [_order_out(session, o) for o in repository.orders_of_user(session, user.id)]


@router.get("/orders/{public_id}", response_model=OrderOut, responses=READ_ERRORS)
def get_my_order(public_id: str, session: SessionDep, user: CurrentUser) -> OrderOut:
    """One of your orders."""
    return _order_out(session, orders.order_of_user(session, user, public_id))


@router.post("/orders/{public_id}/download-url", response_model=DownloadUrlOut,
             responses=error_responses(Unauthorized, NotFound, Conflict, ConsentNotGranted))
def create_download_url(public_id: str, session: SessionDep, user: CurrentUser, settings: SettingsDep,
                        cs: CommerceSettingsDep) -> DownloadUrlOut:
    """A signed URL for the licensed long version, valid for a few minutes (no login needed to use it)."""
    order = orders.order_of_user(session, user, public_id)
    _require_downloadable(session, order)
    url, expires_at = entitlements.signed_download_path(settings.secret_key, order.public_id,
                                                        cs.download_url_ttl_seconds)
    return DownloadUrlOut(url=url, expires_at=expires_at)


def _require_downloadable(session: SessionDep, order: Order) -> Track:
    entitlement = repository.entitlement_for_order(session, order.id)
    if entitlement is None:
        raise Conflict(f"order {order.public_id} is {order.status.value}; nothing to download yet")
    if not entitlements.has_entitlement(session, order.user_id, order.track_id, order.spec_hash):
        state = "expired" if entitlement.status == EntitlementStatus.active else entitlement.status.value
        raise Conflict(f"the licence of order {order.public_id} is {state}; downloads are closed")
    track = catalog_repository.get_or_404(session, Track, order.track_id)
    orders.require_sellable(session, track)  # consent revoked after the sale stops downloads too
    return track


@router.get("/downloads/{public_id}", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}, "description": "The licensed version"},
                       **error_responses(Forbidden, NotFound, Conflict, ConsentNotGranted)})
def download(public_id: str, session: SessionDep, settings: SettingsDep,
             expires: Annotated[int, Query()], signature: Annotated[str, Query(max_length=128)]) -> Response:
    """The licensed long version (WAV), if the signed URL is genuine and unexpired and the licence is live.

    Each download carries its own watermark id and a C2PA manifest citing the licence and consent grants;
    ``X-Remix-Render-Id`` names the provenance record (``POST /api/provenance/verify`` finds it again)."""
    if not entitlements.signature_is_valid(settings.secret_key, public_id, expires, signature):
        raise Forbidden("this download link is invalid or has expired; ask for a new one")
    order = repository.order_by_public_id(session, public_id)
    if order is None:
        raise NotFound(f"order {public_id} does not exist")
    track = _require_downloadable(session, order)
    stamped = renders.stamped_download(session, settings, order, track)
    return Response(stamped.data, media_type="audio/wav", headers={
        "Content-Disposition": f'attachment; filename="remix-{order.public_id}.wav"',
        "X-Remix-Render-Id": stamped.render.public_id, "Cache-Control": "no-store"})


# --- the Stripe webhook ---------------------------------------------------------------------------


@router.post("/commerce/stripe/webhook", response_model=WebhookOut, tags=["webhooks"],
             responses=error_responses(BadRequest))
async def stripe_webhook(
    request: Request,
    cs: CommerceSettingsDep,
    payload: Annotated[bytes, Depends(raw_body)],
    stripe_signature: Annotated[str | None, Header()] = None,
) -> Response:
    """Stripe's signed event delivery. Bad signature, stale timestamp or malformed body → 400 and nothing
    stored; a duplicate event id → 200 ``duplicate``; an unused type → 200 ``ignored``; a refund or dispute
    that arrives before its payment → 200 ``deferred`` (applied when the payment arrives). A 200 is sent
    only once the event is committed; concurrent deliveries share one transaction (group commit)."""
    # On the event loop: the signature check is a few microseconds, and the database work runs on a
    # worker thread once per batch (see remix.commerce.group_commit).
    event = webhooks.verify(payload, stripe_signature, cs.stripe_webhook_secret, cs.webhook_tolerance_seconds)
    outcome = await group_commit.batcher_for(request.app.state).deliver(event, cs)
    # The body of WebhookOut written directly: returning a Response skips FastAPI's validation and
    # serialisation of the response model, which cost more than the three strings it checks.
    return Response(json.dumps({"event_id": outcome.event_id, "status": outcome.status, "note": outcome.note},
                               separators=(",", ":")), media_type="application/json")


# --- finance --------------------------------------------------------------------------------------


@finance_router.post("/orders/{public_id}/refund", response_model=RefundOut,
                     responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, BadRequest,
                                               PaymentProviderUnavailable))
def refund_order(public_id: str, body: RefundIn, session: SessionDep, user: FinanceUser,
                 cs: CommerceSettingsDep) -> RefundOut:
    """Refund all (no amount) or part of a paid order through Stripe. The ledger reverses the shares when
    Stripe's ``refund.*`` webhook arrives."""
    refund_id = orders.request_refund(session, StripeGateway(cs), user, public_id, body.amount_minor)
    return RefundOut(refund_id=refund_id, detail="refund requested; it posts when the provider confirms it")


@finance_router.get("/statements", response_model=list[StatementLineOut], responses=READ_ERRORS)
def finance_statements(session: SessionDep, _: FinanceUser, period: str,
                       payee_id: int | None = None) -> list[statements.StatementLine]:
    """Statement lines for ``period`` (YYYY-MM): opening, sales, refunds, disputes, closing per payee."""
    return statements.statement(session, period, None if payee_id is None else [payee_id])


@finance_router.get("/statements.csv", response_class=PlainTextResponse, responses=READ_ERRORS)
def finance_statements_csv(session: SessionDep, _: FinanceUser, period: str,
                           payee_id: int | None = None) -> PlainTextResponse:
    """The statements for ``period`` as CSV (amounts in major units, exact): all payees, or one with ``payee_id``."""
    if payee_id is None:
        return _csv(statements.statement(session, period), period)
    return _csv(statements.statement(session, period, [payee_id]), f"{period}-payee-{payee_id}")


def _csv(lines: list[statements.StatementLine], name: str) -> PlainTextResponse:
    return PlainTextResponse(statements.statement_csv(lines), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="statement-{name}.csv"'})


@finance_router.post("/periods/{period}/lock", response_model=PeriodLockOut, status_code=201,
                     responses=WRITE_ERRORS)
def lock_period(period: str, session: SessionDep, user: FinanceUser) -> object:
    """Lock a period: its statements never change again; late postings go into the next open period."""
    return statements.lock_period(session, user, period)


@finance_router.get("/reconciliation", response_model=ReconciliationOut, responses=READ_ERRORS)
def reconciliation(session: SessionDep, _: FinanceUser) -> statements.Reconciliation:
    """Checks: one sale posting per paid order, balanced single-currency transactions, clearing nets to
    zero, provider balance = sales − refunds − lost disputes; lists paid orders that need a refund."""
    return statements.reconcile(session)


@router.get("/statements/mine", response_model=list[StatementLineOut], responses=READ_ERRORS)
def my_statements(session: SessionDep, user: ArtistUser, period: str) -> list[statements.StatementLine]:
    """Statement lines of the payees linked to your artists (and only those)."""
    return statements.statement(session, period, repository.payee_ids_for_artists(session, user.artist_ids))


@router.get("/statements/mine.csv", response_class=PlainTextResponse, responses=READ_ERRORS)
def my_statements_csv(session: SessionDep, user: ArtistUser, period: str) -> PlainTextResponse:
    """Your statement lines for ``period`` as CSV."""
    lines = statements.statement(session, period, repository.payee_ids_for_artists(session, user.artist_ids))
    return _csv(lines, period)


# --- read-only reports (finance dashboard, artist console) ---------------------------------------


@finance_router.get("/revenue", response_model=list[RevenueSeriesOut], responses=READ_ERRORS)
def revenue_over_time(session: SessionDep, _: FinanceUser,
                      by: Annotated[Literal["track", "payee"], Query()] = "track") -> list[RevenueSeriesOut]:
    """Net revenue per month (sales less refunds and lost disputes) by track, or each payee's share of it,
    one series per track or payee and currency — the data behind the dashboard's charts."""
    return [RevenueSeriesOut(key=s.key, label=s.label, currency=s.currency, total=s.total, points=s.points)
            for s in reports.revenue(session, by)]


@finance_router.get("/split-sheets", response_model=list[SplitSheetForReviewOut], responses=READ_ERRORS)
def split_sheets_by_status(session: SessionDep, _: FinanceUser,
                           status: SplitSheetStatus = SplitSheetStatus.accepted) -> list[SplitSheetForReviewOut]:
    """Split sheet versions in ``status`` across all tracks (default ``accepted``: waiting for finance)."""
    return [SplitSheetForReviewOut.model_validate({**SplitSheetOut.model_validate(sheet).model_dump(),
                                                   "track_title": title})
            for sheet, title in reports.split_sheets_with_status(session, status)]


@finance_router.get("/orders", response_model=list[FinanceOrderOut], responses=READ_ERRORS)
def finance_orders(session: SessionDep, _: FinanceUser,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[FinanceOrderOut]:
    """The newest paid or failed orders with what was refunded and disputed, for refunds and dispute review."""
    return [FinanceOrderOut(public_id=m.order.public_id, track_id=m.order.track_id, track_title=m.track_title,
                            amount_minor=m.order.amount_minor, currency=m.order.currency, status=m.order.status,
                            paid_at=m.order.paid_at, needs_refund=m.order.needs_refund, entitlement=m.entitlement,
                            refunded_minor=m.refunded, disputed_minor=m.disputed, dispute_open=m.dispute_open)
            for m in reports.orders_for_finance(session, limit)]


@router.get("/consent/grants/{grant_id}/uses", response_model=GrantUsesOut, tags=["consent"], responses=READ_ERRORS)
def grant_uses(grant_id: int, session: SessionDep, user: CurrentUser) -> GrantUsesOut:
    """What relies on a grant: the visual models trained under it, the outputs rendered under it (by purpose)
    and the licences sold under it. For the grant's artist, finance and admins."""
    grant = catalog_repository.get_or_404(session, ConsentGrant, grant_id)
    if user.role != Role.finance:
        ensure_acts_for(user, grant.artist_id)
    return GrantUsesOut(
        grant_id=grant_id,
        models=[GrantModelOut(id=m.id, status=m.status.value) for m in reports.models_under_grant(session, grant_id)],
        renders=reports.renders_under_grant(session, grant_id),
        sales=[GrantSaleOut(licence_number=lic.number, track_id=lic.track_id, product=lic.product,
                            spec_hash=lic.spec_hash, issued_at=lic.issued_at, valid_until=lic.valid_until)
               for lic in reports.sales_under_grant(session, grant_id)],
    )


@router.get("/commerce/payment-config", response_model=PaymentConfigOut, responses=error_responses(Unauthorized))
def payment_config(_: CurrentUser, cs: CommerceSettingsDep) -> PaymentConfigOut:
    """The Stripe publishable key for the browser's Payment Element (None when not configured: the studio then
    offers a clearly labelled test-card purchase) and whether payments are in test mode."""
    return PaymentConfigOut(publishable_key=cs.stripe_publishable_key,
                            test_mode=not cs.stripe_api_key.startswith(("sk_live_", "rk_live_")))
