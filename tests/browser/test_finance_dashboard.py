"""The finance journey: approve a split sheet, see a sale (arrived through the signed Stripe webhook) in the
statement and the revenue chart, and export the statement as CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from playwright.sync_api import Page, expect

from remix.auth.models import User
from remix.catalog import service as catalog
from remix.catalog.models import Scope
from remix.commerce import orders, splits, statements
from remix.commerce.config import CommerceSettings
from remix.commerce.ledger import period_of
from remix.commerce.models import PayeeRole
from remix.db import utcnow
from remix.demo.media import DemoAlbumMedia
from tests.browser.support import PASSWORD, LiveServer, log_in, shot
from tests.commerce.conftest import dispute, new_id, payment_succeeded, refund_created, stripe_signature

pytestmark = pytest.mark.browser

WEBHOOK_SECRET = "whsec_browser_tests"
SPEC = {"stems": {"soprano": {"gain_db": -3.0}}, "window": {"start_seconds": 0.0, "length_seconds": 20.0}}


@pytest.fixture(scope="module", autouse=True)
def shop(live_server: LiveServer, chorale: DemoAlbumMedia, localstripe: str) -> None:
    """"Steam Rising" with stems and a sell_extended grant, two payees, a split sheet the artist accepted
    (waiting for finance), and a price."""
    app, settings = live_server.app, live_server.settings
    app.state.commerce_settings = CommerceSettings(stripe_api_key="sk_test_browser", render_on_payment=False,
                                                   stripe_api_base=localstripe, stripe_webhook_secret=WEBHOOK_SECRET)
    track_id = live_server.ids["track"]
    with app.state.sessionmaker.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        finance = session.get(User, live_server.ids["user_finance"])
        assert artist is not None and finance is not None
        for stem in chorale.tracks[0].stems[:2]:
            with stem.path.open("rb") as stream:
                catalog.upload_stem(session, settings, artist, track_id,
                                    catalog.Upload(stream, stem.path.name, "audio/wav"), stem.name)
        catalog.grant_consent(session, artist, Scope.sell_extended, asset_id=None, album_id=live_server.ids["album"],
                              expires_at=None, terms="")
        band = splits.create_payee(session, finance, "Alpha Band Royalties", live_server.ids["artist"], None)
        label = splits.create_payee(session, finance, "Morning Records", None, None)
        sheet = splits.propose_split_sheet(session, finance, track_id, [
            splits.SplitLineIn(band.id, PayeeRole.artist, 6000), splits.SplitLineIn(label.id, PayeeRole.label, 4000),
        ], "standard deal")
        splits.accept_split_sheet(session, artist, sheet.id)
        splits.set_product(session, finance, track_id, "full_length", 999, "EUR", 365, "Personal use.", True)


def deliver(live_server: LiveServer, event: dict[str, Any]) -> None:
    """Post a Stripe event, signed as Stripe signs it, to the running server's webhook."""
    body = json.dumps(event).encode()
    response = httpx.post(live_server.url("/api/commerce/stripe/webhook"), content=body,
                          headers={"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET),
                                   "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["status"] == "processed", response.text


def sell(live_server: LiveServer, number: int = 1) -> str:
    """A fan's order, paid: Stripe's signed ``payment_intent.succeeded`` posted to the running server."""
    payment_intent = f"pi_browser_test_{number:04d}"
    with live_server.app.state.sessionmaker.begin() as session:
        fan = session.get(User, live_server.ids["user_fan"])
        assert fan is not None
        spec = {**SPEC, "tempo": 1.0 + number / 100}  # a distinct remix per order
        order = orders.open_order(session, fan, live_server.ids["track"], "full_length", spec,
                                  f"browserorder{number:04d}")
        order.payment_intent_id = payment_intent
        public_id = order.public_id
    deliver(live_server, payment_succeeded(payment_intent, 999, "EUR"))
    return public_id


def test_finance_approves_a_split_sees_the_sale_and_exports_csv(page: Page, live_server: LiveServer) -> None:
    log_in(page, "finance")
    expect(page.get_by_role("heading", name="Finance", level=1)).to_be_visible()
    sheets = page.get_by_role("region", name="Split sheets awaiting approval")
    sheet = sheets.get_by_role("listitem", name="Split sheet Steam Rising v1")
    expect(sheet).to_contain_text("Alpha Band Royalties")
    expect(sheet).to_contain_text("60.00 %")
    sheet.get_by_role("button", name="Approve split sheet Steam Rising v1").click()
    expect(page.get_by_role("status")).to_contain_text("Split sheet Steam Rising v1 approved")
    expect(sheets).to_contain_text("No split sheets are waiting for approval")
    # The approved sheet left the list with its button; keyboard focus stays in this card, not the page top.
    expect(sheets.get_by_role("heading", name="Split sheets awaiting approval")).to_be_focused()

    public_id = sell(live_server)

    statements = page.get_by_role("region", name="Statements")
    period = period_of(utcnow())
    statements.get_by_label("Period").fill(period)
    statements.get_by_role("button", name="Show statement").click()
    table = statements.get_by_role("table", name=f"Statement {period}")
    # €9.99 split 60/40 by largest remainder: 5.99 and 4.00.
    expect(table.get_by_role("row").filter(has_text="Alpha Band Royalties")).to_contain_text("€5.99")
    expect(table.get_by_role("row").filter(has_text="Morning Records")).to_contain_text("€4.00")

    page.reload()
    revenue = page.get_by_role("region", name="Revenue")
    expect(revenue.get_by_role("img", name="Net revenue by track per month, EUR")).to_be_visible()
    expect(revenue).to_contain_text("Steam Rising €9.99")
    revenue.get_by_label("Show").select_option("payee")
    expect(revenue).to_contain_text("Alpha Band Royalties €5.99")
    orders_table = page.get_by_role("region", name="Refunds and disputes").get_by_role("table", name="Orders")
    expect(orders_table).to_contain_text(public_id[:8])
    expect(orders_table).to_contain_text("active")
    shot(page, "finance-dashboard")

    statements = page.get_by_role("region", name="Statements")
    statements.get_by_label("Period").fill(period)
    with page.expect_download() as download_info:
        statements.get_by_role("button", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"statement-{period}.csv"
    rows = Path(download.path()).read_text().splitlines()
    assert rows[0].startswith("period,payee_id,payee,currency,opening,sales")
    assert any("Alpha Band Royalties,EUR,0.00,5.99" in row for row in rows), rows
    assert any("Morning Records,EUR,0.00,4.00" in row for row in rows), rows

    # With one payee chosen, the export holds that payee's statement only, as the table does.
    statements.get_by_label("Payee").select_option(label="Morning Records")
    with page.expect_download() as download_info:
        statements.get_by_role("button", name="Export CSV").click()
    download = download_info.value
    rows = Path(download.path()).read_text().splitlines()
    assert rows[0].startswith("period,payee_id,payee,currency")
    assert [row for row in rows[1:] if row] and all("Morning Records" in row for row in rows[1:] if row), rows


def test_finance_locks_a_past_period_once(page: Page) -> None:
    year, month = map(int, period_of(utcnow()).split("-"))
    last = f"{year - (month == 1)}-{12 if month == 1 else month - 1:02d}"
    page.on("dialog", lambda dialog: dialog.accept())  # "Lock 2026-10? …" — yes
    log_in(page, "finance")
    statements = page.get_by_role("region", name="Statements")
    # The period field is framed like the payee menu beside it, not left a bare browser widget.
    looks = "el => { const s = getComputedStyle(el); return [s.borderTopLeftRadius, s.borderTopColor, s.paddingLeft]; }"
    assert statements.get_by_label("Period").evaluate(looks) == statements.get_by_label("Payee").evaluate(looks)
    statements.get_by_label("Period").fill(last)
    statements.get_by_role("button", name="Lock period").click()
    expect(page.get_by_role("status")).to_contain_text(f"Period {last} is locked")
    statements.get_by_role("button", name="Lock period").click()
    expect(page.get_by_role("status")).to_contain_text(f"period {last} is already locked")
    expect(page.get_by_role("status")).to_have_attribute("data-tone", "error")


def test_artist_accepts_a_split_sheet_sets_prompt_rules_and_reads_their_statement(page: Page,
                                                                                  live_server: LiveServer) -> None:
    app, track_id = live_server.app, live_server.ids["track"]
    with app.state.sessionmaker.begin() as session:
        finance = session.get(User, live_server.ids["user_finance"])
        assert finance is not None
        band = next(p for p in splits.repository.payees(session) if p.name == "Alpha Band Royalties")
        sheet = splits.propose_split_sheet(session, finance, track_id,
                                           [splits.SplitLineIn(band.id, PayeeRole.artist, 10_000)], "all to the band")
        sheet_id, version = sheet.id, sheet.version

    log_in(page, "artist")
    console = page.get_by_role("region", name="Alpha Band")
    rules = console.get_by_role("form", name="Prompt rules for Alpha Band")
    rules.get_by_label("Blocked words and phrases (one per line)").fill("volcano\nzombie")
    rules.get_by_role("button", name="Save prompt rules").click()
    expect(page.get_by_role("status")).to_contain_text("Prompt rules saved: 2 blocked")

    page.get_by_role("link", name="Morning Coffee").click()
    sheets = page.get_by_role("region", name="Split sheets")
    name = f"Steam Rising v{version}"
    expect(sheets.get_by_role("listitem", name=f"Split sheet {name}")).to_contain_text("Waiting for you")
    # The artist sees who is paid, by name, before accepting (not "Payee 1").
    expect(sheets.get_by_role("listitem", name=f"Split sheet {name}")).to_contain_text(
        "Alpha Band Royalties (artist): 100.00 %")
    sheets.get_by_role("button", name=f"Accept split sheet {name}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Split sheet {name} accepted")
    expect(sheets.get_by_role("listitem", name=f"Split sheet {name}")).to_contain_text("waiting for finance")
    expect(sheets.get_by_role("listitem", name=f"Split sheet {name}")).to_be_focused()

    with app.state.sessionmaker.begin() as session:
        splits.approve_split_sheet(session, session.get(User, live_server.ids["user_finance"]), sheet_id)
    sell(live_server, 2)  # all €9.99 to the band under the new version
    page.get_by_role("link", name="Artist console").first.click()
    mine = page.get_by_role("region", name="My statements")
    with app.state.sessionmaker() as session:
        [line] = statements.statement(session, period_of(utcnow()), [band.id])
    assert line.sales >= 999  # at least this sale, all of it the band's under the new version
    row = mine.get_by_role("table").get_by_role("row").filter(has_text="Alpha Band Royalties")
    expect(row).to_contain_text(f"€{line.closing / 100:.2f}")  # the same figure finance's statement shows
    expect(mine).not_to_contain_text("Morning Records")  # only the artist's own payees
    shot(page, "artist-statement")
    with page.expect_download() as download_info:
        mine.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert "Alpha Band Royalties" in Path(download.path()).read_text()
    expect(page.get_by_role("status")).to_contain_text(f"Statement saved as {download.suggested_filename}")


def test_finance_refunds_part_of_an_order_and_sees_a_dispute(page: Page, live_server: LiveServer,
                                                               localstripe: str) -> None:
    with live_server.app.state.sessionmaker.begin() as session:  # sales open, whichever tests ran before
        finance = session.get(User, live_server.ids["user_finance"])
        for sheet in splits.repository.split_sheets_for_track(session, live_server.ids["track"]):
            if sheet.status.value == "accepted":
                splits.approve_split_sheet(session, finance, sheet.id)
    # A real test-mode payment: the fan's order confirmed with Stripe's test card at localstripe.
    with httpx.Client(base_url=live_server.base_url) as fan:
        token = fan.post("/api/auth/login", json={"email": "fan@test.example", "password": PASSWORD}).json()["token"]
        r = fan.post("/api/orders", headers={"Authorization": f"Bearer {token}"},
                     json={"track_id": live_server.ids["track"], "spec": {**SPEC, "tempo": 1.5},
                           "payment_method": "pm_card_visa"})
    assert r.status_code == 201, r.text
    order, pi = r.json()["order"], r.json()["order"]["payment_intent_id"]
    deliver(live_server, payment_succeeded(pi, 999, "EUR"))

    log_in(page, "finance")
    table = page.get_by_role("region", name="Refunds and disputes").get_by_role("table", name="Orders")
    row = table.get_by_role("row").filter(has_text=order["public_id"][:8])
    row.get_by_role("button", name=f"Refund order {order['public_id'][:8]}").click()
    dialog = page.get_by_role("dialog", name="Refund")
    expect(dialog).to_contain_text("€9.99 can still be refunded")
    dialog.get_by_label("Amount in minor units (EUR); empty for the full amount").fill("300")
    dialog.get_by_role("button", name="Refund", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Refund requested")
    expect(row.get_by_role("rowheader")).to_be_focused()  # on the order, not thrown to the top of the page

    # Stripe confirms the refund it made (its id, from localstripe), then the fan's bank opens a dispute.
    client = stripe.StripeClient("sk_test_browser", base_addresses={"api": localstripe})
    [refund] = [x for x in client.v1.refunds.list().data if x.payment_intent == pi]
    assert refund.amount == 300
    deliver(live_server, refund_created(pi, 300, "EUR", refund.id))
    deliver(live_server, dispute("charge.dispute.created", new_id("dp"), pi, 699, "EUR", "needs_response"))
    page.reload()
    row = page.get_by_role("table", name="Orders").get_by_role("row").filter(has_text=order["public_id"][:8])
    expect(row).to_contain_text("€3.00")  # refunded; a partial refund keeps the licence …
    expect(row).to_contain_text("€6.99 open")  # … but an open dispute suspends it
    expect(row).to_contain_text("suspended")
    shot(page, "finance-refunds")
