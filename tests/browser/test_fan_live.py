"""The fan journey on the live stage: log in, play, prompt the visuals, move a fader, download a clip."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, WebSocket, WebSocketRoute, expect
from sqlalchemy import select

from remix.auth.models import User
from remix.catalog import service as catalog
from remix.catalog.models import ConsentGrant, Scope
from remix.commerce import splits
from remix.commerce.config import CommerceSettings
from remix.commerce.models import PayeeRole
from remix.demo.media import DemoAlbumMedia
from remix.demo.seed import DEMO_VISUAL_MODEL_DIR
from remix.live.hub import LiveConfig
from remix.visuals import service as visuals
from tests.browser.support import LiveServer, log_in, page_width, shot

pytestmark = pytest.mark.browser

# Two denoising steps and a few frames a second: the test is about the page, not the picture's quality.
LIVE_CONFIG = LiveConfig(frame_steps=2, frame_size=256, consent_recheck_seconds=0.2, max_fps=6.0)
WEBHOOK_SECRET = "whsec_browser_fan"


@pytest.fixture(scope="module", autouse=True)
def live_album(live_server: LiveServer, chorale: DemoAlbumMedia) -> None:
    """The chorale's stems on "Steam Rising", clips released, and the shipped demo visual model imported on
    the demo artwork (the same bytes it was trained on) and approved — no training needed."""
    app, settings = live_server.app, live_server.settings
    app.state.live_config = LIVE_CONFIG
    factory = app.state.sessionmaker
    album_id = live_server.ids["album"]
    with factory.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        assert artist is not None
        for stem in chorale.tracks[0].stems:
            with stem.path.open("rb") as stream:
                catalog.upload_stem(session, settings, artist, live_server.ids["track"],
                                    catalog.Upload(stream, stem.path.name, "audio/wav"), stem.name)
        for art in chorale.artwork:
            with art.path.open("rb") as stream:
                catalog.upload_artwork(session, settings, artist, album_id,
                                       catalog.Upload(stream, art.path.name, None), art.title, art.caption)
        for scope in (Scope.download_clip, Scope.train_visual, Scope.sell_extended):
            catalog.grant_consent(session, artist, scope, asset_id=None, album_id=album_id, expires_at=None, terms="")
        model = visuals.import_trained_model(session, settings, artist, album_id, DEMO_VISUAL_MODEL_DIR)
        visuals.approve(session, artist, model.id)
        visuals.set_prompt_rules(session, artist, live_server.ids["artist"], ["volcano"])
        # Load (and cache) the pipeline now, as a running server would have after its first fan: importing
        # torch and diffusers in the first live session would otherwise take most of the test's time.
        visuals.pipeline_for(settings, model)


@pytest.fixture(scope="module")
def for_sale(live_server: LiveServer, localstripe: str) -> None:
    """An approved split sheet and a price, with payments going to localstripe and its webhooks to the server."""
    app = live_server.app
    app.state.commerce_settings = CommerceSettings(stripe_api_key="sk_test_browser", stripe_api_base=localstripe,
                                                   stripe_webhook_secret=WEBHOOK_SECRET, render_on_payment=False)
    track_id = live_server.ids["track"]
    with app.state.sessionmaker.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        finance = session.get(User, live_server.ids["user_finance"])
        assert artist is not None and finance is not None
        band = splits.create_payee(session, finance, "Alpha Band Royalties", live_server.ids["artist"], None)
        sheet = splits.propose_split_sheet(session, finance, track_id,
                                           [splits.SplitLineIn(band.id, PayeeRole.artist, 10_000)], "")
        splits.accept_split_sheet(session, artist, sheet.id)
        splits.approve_split_sheet(session, finance, sheet.id)
        splits.set_product(session, finance, track_id, "full_length", 999, "EUR", 365, "Personal use.", True)
    r = httpx.post(f"{localstripe}/_config/webhooks/browser-fan",
                   data={"url": live_server.url("/api/commerce/stripe/webhook"), "secret": WEBHOOK_SECRET})
    assert r.status_code == 200, r.text


def open_stage(page: Page) -> Locator:
    log_in(page, "fan")
    page.get_by_role("link", name="Morning Coffee").click()
    page.get_by_role("link", name="Steam Rising").click()
    stage = page.get_by_role("region", name="Live stage")
    expect(stage).to_contain_text("Visuals are ready: type a prompt")
    return stage


def canvas_pixels(page: Page) -> str:
    return str(page.get_by_role("img", name="Live visuals for Steam Rising").evaluate("c => c.toDataURL('image/png')"))


def test_fan_plays_prompts_the_visuals_moves_a_fader_and_downloads_a_clip(page: Page,
                                                                          live_server: LiveServer) -> None:
    sent: list[dict[str, object]] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)) if isinstance(payload, str) else None)

    page.on("websocket", watch)
    stage = open_stage(page)
    before = canvas_pixels(page)

    stage.get_by_role("button", name="Play").click()
    expect(stage.get_by_role("button", name="Pause")).to_have_attribute("aria-pressed", "true")
    # The server's mixed audio arrives and is scheduled through Web Audio; the playhead moves. (The first
    # chunk waits for the server to decode the four stems, which is slow on a busy machine.)
    expect(stage.get_by_label("Playhead")).not_to_have_text("0:00.0", timeout=30_000)

    # A refused prompt says why, and nothing changes.
    stage.get_by_label("Prompt").fill("a volcano erupting")
    stage.get_by_role("button", name="Send prompt").click()
    expect(page.get_by_role("status")).to_contain_text("Prompt refused")
    expect(page.get_by_role("status")).to_contain_text("volcano")

    stage.get_by_label("Prompt").fill("white rocket on a launch pad at dusk")
    stage.get_by_role("button", name="Send prompt").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("is shaping the visuals")
    canvas = page.get_by_role("img", name="Live visuals for Steam Rising")
    expect(canvas).not_to_have_attribute("data-frames", "0")
    assert canvas_pixels(page) != before, "the canvas did not change after the prompt"

    mixer = page.get_by_role("region", name="Mixer")
    soprano = mixer.get_by_role("slider", name="soprano level")
    soprano.focus()
    for _ in range(12):  # 0.5 dB a step, as a keyboard user moves it
        page.keyboard.press("ArrowLeft")
    expect(soprano).to_have_attribute("aria-valuetext", "−6.0 dB")
    # The fader's value reaches the server as a live ``mix`` message (sent after a short debounce).
    for _ in range(50):
        if any(m.get("type") == "mix" and m["spec"]["stems"]["soprano"]["gain_db"] == -6  # type: ignore[index]
               for m in sent):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"no mix message with the soprano at -6 dB: {sent}")
    expect(page.get_by_role("status")).not_to_have_attribute("data-tone", "error")
    shot(page, "fan-live")

    with page.expect_download() as download_info:
        mixer.get_by_role("button", name="Download 30 s clip").click()
    download = download_info.value
    assert download.suggested_filename.startswith("steam-rising-remix-")
    assert Path(download.path()).stat().st_size > 100_000
    expect(page.get_by_role("status")).to_contain_text(f"Clip saved as {download.suggested_filename}")

    stage.get_by_role("button", name="Save remix").click()
    saved = page.get_by_role("region", name="Your saved remixes")
    expect(saved).to_contain_text("Steam Rising remix #")
    expect(saved).to_contain_text("white rocket on a launch pad at dusk")
    # The fan is told which 30 s were kept: from where the stage is playing, not the mixer's excerpt.
    kept = re.compile(r"Remix saved \(#\d+\): (\d+:\d\d\.\d–\d+:\d\d\.\d) of the track")
    expect(page.get_by_role("status")).to_have_text(kept)
    match = kept.search(page.get_by_role("status").inner_text())
    assert match is not None
    expect(saved).to_contain_text(match.group(1))

    with page.expect_download(timeout=30_000) as visual_info:
        stage.get_by_role("button", name="Download visual").click()
    visual = visual_info.value
    assert visual.suggested_filename.endswith(".jpg")
    expect(page.get_by_role("status")).to_contain_text("watermarked and signed")
    # The saved visual is a stamped render: the public verify endpoint recognises it as licensed.
    report = httpx.post(f"{live_server.base_url}/api/provenance/verify/public", timeout=60,
                        files={"file": (visual.suggested_filename, Path(visual.path()).read_bytes(), "image/jpeg")})
    assert report.status_code == 200, report.text
    assert report.json()["verdict"] == "licensed_render"


@pytest.mark.usefixtures("for_sale")
def test_fan_buys_the_long_version_of_a_saved_remix_and_downloads_it(page: Page) -> None:
    stage = open_stage(page)
    stage.get_by_role("button", name="Save remix").click()
    saved = page.get_by_role("region", name="Your saved remixes")
    buy = saved.get_by_role("button", name="Buy long version").first
    expect(buy).to_contain_text("€9.99")
    buy.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Test mode — no real money moves")
    dialog.get_by_role("button", name="Pay €9.99 with the test card").click()
    # localstripe confirms the card, then delivers the signed webhook that alone makes the order paid.
    expect(page.get_by_role("heading", name="My purchases", level=1)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("status")).to_contain_text("Paid. Licence")
    row = page.get_by_role("table", name="Purchases").get_by_role("row").filter(has_text="Steam Rising")
    expect(row).to_contain_text("Licensed")
    shot(page, "fan-purchases")
    with page.expect_download(timeout=60_000) as download_info:
        row.get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.startswith("remix-") and download.suggested_filename.endswith(".wav")
    assert Path(download.path()).read_bytes()[:4] == b"RIFF"
    # The page says so once the file has arrived (the server renders it first), and the app stays open.
    expect(page.get_by_role("status")).to_contain_text(f"saved as {download.suggested_filename}")
    expect(page.get_by_role("heading", name="My purchases", level=1)).to_be_visible()


@pytest.mark.usefixtures("for_sale")
def test_an_unreachable_payment_provider_is_explained_inside_the_buy_dialog(page: Page,
                                                                            live_server: LiveServer) -> None:
    app = live_server.app
    working = app.state.commerce_settings
    with socket.socket() as probe:  # a port nothing listens on: Stripe is down
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app.state.commerce_settings = working.model_copy(update={"stripe_api_base": f"http://127.0.0.1:{closed_port}"})
    try:
        stage = open_stage(page)
        stage.get_by_role("button", name="Save remix").click()
        saved = page.get_by_role("region", name="Your saved remixes")
        saved.get_by_role("button", name="Buy long version").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Pay €9.99 with the test card").click()
        # The modal covers the page's status area, so the dialog itself says what happened, in words.
        notice = dialog.get_by_role("status")
        expect(notice).to_contain_text("The payment provider is unavailable; nothing was charged", timeout=30_000)
        expect(notice).to_contain_text("Stripe could not be reached")
        expect(notice).not_to_contain_text("Network error")  # not the HTTP library's trace
        expect(dialog.get_by_role("button", name="Pay €9.99 with the test card")).to_be_enabled()
        shot(page, "fan-buy-provider-down")
    finally:
        app.state.commerce_settings = working


def revoke_cover_grant(live_server: LiveServer) -> None:
    """The artist revokes the album's remix_preview grant (it covers the stems and the cover art)."""
    with live_server.app.state.sessionmaker.begin() as session:
        catalog.revoke_consent(session, session.get(User, live_server.ids["user_artist"]),
                               live_server.ids["cover_grant"], "taking a break")


def grant_cover_again(live_server: LiveServer) -> None:
    with live_server.app.state.sessionmaker.begin() as session:
        grant = catalog.grant_consent(session, session.get(User, live_server.ids["user_artist"]),
                                      Scope.remix_preview, asset_id=None, album_id=live_server.ids["album"],
                                      expires_at=None, terms="")
        live_server.ids["cover_grant"] = grant.id


def test_revoked_preview_consent_stops_the_live_session_with_a_message(page: Page, live_server: LiveServer) -> None:
    stage = open_stage(page)
    cover = page.get_by_role("complementary", name="Album artwork")
    expect(cover.get_by_role("img")).to_be_visible()
    stage.get_by_role("button", name="Play").click()
    expect(stage.get_by_label("Playhead")).not_to_have_text("0:00.0", timeout=30_000)  # the first decode is slow
    revoke_cover_grant(live_server)
    try:
        status = page.get_by_role("status")
        expect(status).to_contain_text("Not released by the artist")
        expect(status).to_contain_text("rendering has stopped")
        # In words the fan knows (the stems and the track), never the assets' internal ids.
        expect(status).to_contain_text("the artist has not allowed remixing of the soprano, alto, tenor and bass "
                                       "stems of “Steam Rising”")
        expect(status).not_to_contain_text("asset")
        # The cover art the same grant released leaves the screen at once, without a reload.
        expect(cover).to_contain_text("Withdrawn by the artist")
        expect(cover.get_by_role("img")).to_have_count(0)
        expect(stage.get_by_role("button", name="Play")).to_have_attribute("aria-pressed", "false")
        expect(stage).to_contain_text("no longer released for remixing")
        # A prompt sent now is kept, but the page must not claim it is shaping visuals that have stopped.
        stage.get_by_label("Prompt").fill("lighthouse in a storm")
        stage.get_by_role("button", name="Send prompt").click()
        expect(status).to_contain_text("“lighthouse in a storm” saved, but nothing is shown")
        expect(status).not_to_contain_text("is shaping the visuals")
        shot(page, "fan-live-revoked")
    finally:
        grant_cover_again(live_server)


def test_consent_granted_again_says_the_track_is_back_without_a_reload(page: Page, live_server: LiveServer) -> None:
    stage = open_stage(page)
    cover = page.get_by_role("complementary", name="Album artwork")
    revoke_cover_grant(live_server)
    try:
        expect(stage).to_contain_text("no longer released for remixing")
        expect(cover).to_contain_text("Withdrawn by the artist")
    finally:
        grant_cover_again(live_server)
    # The page learns it from the live session: no reload, no press of Play needed to find out.
    expect(stage).to_contain_text("Available again: the artist has released this track. Press Play to continue.")
    expect(page.get_by_role("status")).to_contain_text("Steam Rising is available again")
    expect(stage).not_to_contain_text("Stopped")
    expect(cover.get_by_role("img")).to_be_visible()
    stage.get_by_role("button", name="Play").click()
    expect(stage.get_by_label("Playhead")).not_to_have_text("0:00.0", timeout=30_000)
    expect(stage).not_to_contain_text("Available again")


def test_a_dropped_connection_resumes_the_same_session(page: Page) -> None:
    routes: list[WebSocketRoute] = []

    def through(route: WebSocketRoute) -> None:
        route.connect_to_server()  # a transparent pass-through, kept so the test can drop it
        routes.append(route)

    page.route_web_socket("**/live*", through)
    stage = open_stage(page)
    stage.get_by_label("Prompt").fill("espresso cup on a wooden table")
    stage.get_by_role("button", name="Send prompt").click()
    expect(page.get_by_role("status")).to_contain_text("is shaping the visuals")

    routes[0].close(code=1006, reason="network blip")
    expect(stage).to_contain_text("Reconnecting")
    # The page reconnects by itself, naming its session, and the server resumes it (no "new session" notice).
    expect(stage.get_by_role("button", name="Play")).to_be_enabled(timeout=15_000)
    assert len(routes) == 2 and "session=" in routes[1].url, [r.url for r in routes]
    expect(page.get_by_role("status")).to_contain_text("Reconnected: your mix, prompt and place in the track were kept")
    stage.get_by_role("button", name="Play").click()
    expect(stage.get_by_label("Playhead")).not_to_have_text("0:00.0")
    expect(page.get_by_role("status")).not_to_have_attribute("data-tone", "error")


def test_the_artist_reviews_the_demo_models_samples_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    """The demo model's sample grid (576 px wide) shrinks to a phone instead of pushing the page sideways."""
    phone = browser.new_context(base_url=live_server.base_url, viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True)
    page = phone.new_page()
    log_in(page, "artist")
    page.get_by_role("link", name="Morning Coffee").click()
    grid = page.get_by_role("region", name="Visual models").get_by_role("img", name="Sample grid")
    expect(grid).to_have_js_property("complete", True)
    assert grid.evaluate("img => img.naturalWidth") > 390
    assert page_width(page) <= 390
    phone.close()


@pytest.mark.usefixtures("for_sale")
def test_buy_is_offered_only_while_the_artist_allows_selling(page: Page, live_server: LiveServer) -> None:
    """With the album's sell_extended grant revoked, a saved remix offers no Buy button (it could only end in a
    refusal) and says why; granted again, Buy is back."""
    sessionmaker = live_server.app.state.sessionmaker
    with sessionmaker.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        for grant in session.scalars(select(ConsentGrant).where(ConsentGrant.scope == Scope.sell_extended)):
            if grant.revocation is None:
                catalog.revoke_consent(session, artist, grant.id, "renegotiating the label deal")
    try:
        stage = open_stage(page)
        stage.get_by_role("button", name="Save remix").click()
        saved = page.get_by_role("region", name="Your saved remixes")
        expect(saved).to_contain_text("The long version is not for sale right now: the artist has not allowed "
                                      "selling the long version of")
        expect(saved.get_by_role("button", name="Buy long version")).to_have_count(0)
    finally:
        with sessionmaker.begin() as session:
            catalog.grant_consent(session, session.get(User, live_server.ids["user_artist"]), Scope.sell_extended,
                                  asset_id=None, album_id=live_server.ids["album"], expires_at=None, terms="")
    page.reload()
    expect(page.get_by_role("region", name="Your saved remixes").get_by_role("button", name="Buy long version")
           .first).to_contain_text("€9.99")
