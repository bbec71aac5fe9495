"""Putting a track on sale without the API docs: finance creates payees, proposes a split sheet (the shares must
reach 100 %), the artist accepts it, finance approves it and sets a price, and a fan can then buy the track."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from remix.audio.spec import RemixSpec
from remix.auth.models import User
from remix.catalog import service as catalog
from remix.catalog.models import Scope
from remix.commerce import repository, splits
from remix.commerce.config import CommerceSettings
from remix.commerce.models import PayeeRole
from remix.demo.media import DemoAlbumMedia
from remix.live import service as live
from tests.browser.support import LiveServer, log_in, page_width, shot

pytestmark = pytest.mark.browser

WEBHOOK_SECRET = "whsec_browser_selling"
SPEC = {"stems": {"soprano": {"gain_db": -3.0}}, "window": {"start_seconds": 0.0, "length_seconds": 20.0}}


@pytest.fixture(scope="module", autouse=True)
def sellable(live_server: LiveServer, chorale: DemoAlbumMedia, localstripe: str) -> None:
    """"Steam Rising" has stems and the artist's sell_extended grant, but no payee, split sheet or price: those
    are what the tests set up in the browser. Payments go to localstripe, its webhooks to the server."""
    app, settings = live_server.app, live_server.settings
    app.state.commerce_settings = CommerceSettings(stripe_api_key="sk_test_browser", stripe_api_base=localstripe,
                                                   stripe_webhook_secret=WEBHOOK_SECRET, render_on_payment=False)
    with app.state.sessionmaker.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        assert artist is not None
        for stem in chorale.tracks[0].stems[:2]:
            with stem.path.open("rb") as stream:
                catalog.upload_stem(session, settings, artist, live_server.ids["track"],
                                    catalog.Upload(stream, stem.path.name, "audio/wav"), stem.name)
        catalog.grant_consent(session, artist, Scope.sell_extended, asset_id=None, album_id=live_server.ids["album"],
                              expires_at=None, terms="")
    r = httpx.post(f"{localstripe}/_config/webhooks/browser-selling",
                   data={"url": live_server.url("/api/commerce/stripe/webhook"), "secret": WEBHOOK_SECRET})
    assert r.status_code == 200, r.text


def create_payee(page: Page, name: str, artist: str | None = None) -> None:
    payees = page.get_by_role("region", name="Payees")
    payees.get_by_label("Payee name").fill(name)
    if artist:
        payees.get_by_label("Linked artist (optional)").select_option(label=artist)
    payees.get_by_role("button", name="Create payee").click()
    expect(page.get_by_role("status")).to_contain_text(f"Payee “{name}” created")
    expect(payees.get_by_role("table", name="Payees").get_by_role("row").filter(has_text=name)).to_be_visible()
    expect(payees.get_by_label("Payee name")).to_be_focused()  # ready for the next one
    expect(payees.get_by_label("Payee name")).to_have_value("")


def fill_share(page: Page, number: int, payee: str, role: str, percent: str) -> None:
    line = page.get_by_role("region", name="Propose a split sheet").get_by_role("group", name=f"Share {number}")
    line.get_by_label("Payee").select_option(label=payee)
    line.get_by_label("Role").select_option(role)
    line.get_by_label("Share (%)").fill(percent)


def test_finance_puts_a_track_on_sale_that_the_artist_accepts_and_a_fan_buys(page: Page,
                                                                              live_server: LiveServer) -> None:
    log_in(page, "finance")
    propose = page.get_by_role("region", name="Propose a split sheet")
    expect(propose.get_by_text("No payees yet: create one under Payees first.")).to_be_visible()
    create_payee(page, "Alpha Band Royalties", artist="Alpha Band")
    create_payee(page, "Morning Records")
    expect(propose.get_by_text("No payees yet")).to_be_hidden()

    propose.get_by_label("Track").select_option(label="Morning Coffee — Steam Rising")
    expect(propose).to_contain_text("“Steam Rising” has no split sheet yet")
    fill_share(page, 1, "Alpha Band Royalties", "artist", "60")
    expect(propose).to_contain_text("Total 60.00 %: 40.00 % still to assign.")
    propose.get_by_role("button", name="Add a payee").click()
    expect(propose.get_by_role("group", name="Share 2").get_by_label("Payee")).to_be_focused()
    fill_share(page, 2, "Morning Records", "label", "40")
    expect(propose).to_contain_text("Total 100.00 %: ready to propose.")
    propose.get_by_label("Note (optional)").fill("standard deal")
    propose.get_by_role("button", name="Propose split sheet").click()
    expect(page.get_by_role("status")).to_contain_text("Split sheet v1 of “Steam Rising” proposed")
    proposed = propose.get_by_role("listitem", name="Steam Rising v1")
    expect(proposed).to_contain_text("Waiting for the artist")
    expect(proposed).to_contain_text("Alpha Band Royalties (artist): 60.00 %")
    expect(proposed).to_contain_text("Morning Records (label): 40.00 %")
    expect(proposed).to_be_focused()

    prices = page.get_by_role("region", name="Prices")
    prices.get_by_label("Track").select_option(label="Morning Coffee — Steam Rising")
    expect(prices).to_contain_text("“Steam Rising” has no price yet")
    expect(prices).to_contain_text("Not for sale yet")
    prices.get_by_label("Price", exact=True).fill("9.99")
    prices.get_by_label("Currency (ISO code)").fill("EUR")
    prices.get_by_label("Licence days (empty: perpetual)").fill("365")
    prices.get_by_role("button", name="Save price").click()
    expect(page.get_by_role("status")).to_contain_text("“Steam Rising” full_length now costs €9.99")
    row = prices.get_by_role("table", name="Prices of Steam Rising").get_by_role("row").filter(has_text="full_length")
    expect(row).to_contain_text("€9.99")
    expect(row).to_contain_text("365 days")
    shot(page, "finance-sales-setup")

    log_in(page, "artist")
    page.get_by_role("link", name="Morning Coffee").click()
    sheets = page.get_by_role("region", name="Split sheets")
    sheets.get_by_role("button", name="Accept split sheet Steam Rising v1").click()
    expect(page.get_by_role("status")).to_contain_text("Split sheet Steam Rising v1 accepted")

    log_in(page, "finance")
    page.get_by_role("region", name="Split sheets awaiting approval").get_by_role(
        "button", name="Approve split sheet Steam Rising v1").click()
    expect(page.get_by_role("status")).to_contain_text("Split sheet Steam Rising v1 approved")
    prices = page.get_by_role("region", name="Prices")
    prices.get_by_label("Track").select_option(label="Morning Coffee — Steam Rising")
    expect(prices).to_contain_text("Sales open under split sheet v1: fans can buy")
    # The form starts from the current price, so changing one field keeps the rest.
    expect(prices.get_by_label("Price", exact=True)).to_have_value("9.99")
    expect(prices.get_by_label("Licence days (empty: perpetual)")).to_have_value("365")

    # The fan's saved remix of the track can now be bought, at that price, and the purchase goes through.
    live.save_snapshot(live_server.app.state.sessionmaker, live_server.ids["user_fan"], live_server.ids["track"],
                       RemixSpec.model_validate(SPEC), title="Morning mix", prompt="", model_id=None)
    log_in(page, "fan")
    page.get_by_role("link", name="Morning Coffee").click()
    page.get_by_role("link", name="Steam Rising").click()
    buy = page.get_by_role("region", name="Your saved remixes").get_by_role("button", name="Buy long version").first
    expect(buy).to_contain_text("€9.99")
    buy.click()
    page.get_by_role("dialog").get_by_role("button", name="Pay €9.99 with the test card").click()
    expect(page.get_by_role("heading", name="My purchases", level=1)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("status")).to_contain_text("Paid. Licence")


def test_a_split_that_is_not_100_percent_is_refused_with_the_reason(page: Page, live_server: LiveServer) -> None:
    with live_server.app.state.sessionmaker.begin() as session:
        finance = session.get(User, live_server.ids["user_finance"])
        assert finance is not None
        payee = splits.create_payee(session, finance, "Last Drop Publishing", None, None)
        payee_id = payee.id
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone
    log_in(page, "finance")
    propose = page.get_by_role("region", name="Propose a split sheet")
    propose.get_by_label("Track").select_option(label="Morning Coffee — Last Drop")
    fill_share(page, 1, "Last Drop Publishing", "publisher", "60")
    propose.get_by_role("button", name="Add a payee").click()
    fill_share(page, 2, "Last Drop Publishing", "songwriter", "30")
    expect(propose).to_contain_text("Total 90.00 %: 10.00 % still to assign.")
    propose.get_by_role("button", name="Propose split sheet").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("The shares add up to 90.00 %; they must add up to exactly 100 %")
    expect(status).to_have_attribute("data-tone", "error")
    expect(propose.get_by_role("group", name="Share 1").get_by_label("Share (%)")).to_be_focused()
    assert page_width(page) <= 390, "the finance page scrolls sideways on a phone"
    shot(page, "finance-split-refused-phone")

    # 100 %, but the same payee twice in one role: the server refuses, and its reason is shown as it gave it.
    fill_share(page, 2, "Last Drop Publishing", "publisher", "40")
    expect(propose).to_contain_text("Total 100.00 %: ready to propose.")
    propose.get_by_role("button", name="Propose split sheet").click()
    expect(status).to_contain_text(f"Please check your input: payee {payee_id} appears twice with role 'publisher'")
    expect(status).to_have_attribute("data-tone", "error")
    expect(propose).to_contain_text("“Last Drop” has no split sheet yet")
    with live_server.app.state.sessionmaker() as session:
        assert repository.split_sheets_for_track(session, live_server.ids["track2"]) == []


def test_the_artist_proposes_new_shares_and_prices_a_track_in_the_console(page: Page, live_server: LiveServer) -> None:
    """The API lets a track's artist propose its split sheet and set its price too; they choose among the
    payees named on their album's sheets, since finance's payee list is not theirs to read."""
    track_id = live_server.ids["track2"]
    with live_server.app.state.sessionmaker.begin() as session:
        finance = session.get(User, live_server.ids["user_finance"])
        assert finance is not None
        band = splits.create_payee(session, finance, "Last Drop Band", live_server.ids["artist"], None)
        label = splits.create_payee(session, finance, "Last Drop Label", None, None)
        splits.propose_split_sheet(session, finance, track_id, [
            splits.SplitLineIn(band.id, PayeeRole.artist, 5000), splits.SplitLineIn(label.id, PayeeRole.label, 5000),
        ], "")
        version = repository.latest_split_version(session, track_id) + 1

    log_in(page, "artist")
    page.get_by_role("link", name="Morning Coffee").click()
    propose = page.get_by_role("region", name="Propose a split sheet")
    propose.get_by_label("Track").select_option(label="Last Drop")
    fill_share(page, 1, "Last Drop Band", "artist", "70")
    propose.get_by_role("button", name="Add a payee").click()
    fill_share(page, 2, "Last Drop Label", "label", "30")
    propose.get_by_role("button", name="Propose split sheet").click()
    expect(page.get_by_role("status")).to_contain_text(f"Split sheet v{version} of “Last Drop” proposed")
    sheets = page.get_by_role("region", name="Split sheets")
    mine = sheets.get_by_role("listitem", name=f"Split sheet Last Drop v{version}")
    expect(mine).to_contain_text("Last Drop Band (artist): 70.00 %")
    expect(mine).to_be_focused()  # on the proposal just made, where its Accept button is

    prices = page.get_by_role("region", name="Prices")
    prices.get_by_label("Track").select_option(label="Last Drop")
    prices.get_by_label("Currency (ISO code)").fill("JPY")
    prices.get_by_label("Price", exact=True).fill("1200.5")
    prices.get_by_role("button", name="Save price").click()
    expect(page.get_by_role("status")).to_contain_text("JPY prices are whole numbers")
    expect(prices.get_by_label("Price", exact=True)).to_be_focused()
    prices.get_by_label("Price", exact=True).fill("1200")
    prices.get_by_role("button", name="Save price").click()
    expect(page.get_by_role("status")).to_contain_text("“Last Drop” full_length now costs ¥1,200")
    expect(prices.get_by_role("table", name="Prices of Last Drop")).to_contain_text("¥1,200")
