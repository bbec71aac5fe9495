"""A fan browses the catalog, sees released artwork, and remixes a track in the studio."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from remix.auth.models import User
from remix.catalog import service as catalog
from remix.catalog.models import Asset, Scope
from remix.catalog.storage import AssetStore
from remix.demo.media import DemoAlbumMedia
from tests.browser.support import LiveServer, log_in, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def stems(live_server: LiveServer, chorale: DemoAlbumMedia) -> Iterator[list[str]]:
    """The chorale's stems uploaded to the seeded track "Steam Rising" through the upload service."""
    app, settings = live_server.app, live_server.settings
    names = []
    with app.state.sessionmaker.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        assert artist is not None
        for stem in chorale.tracks[0].stems:
            with stem.path.open("rb") as stream:
                catalog.upload_stem(session, settings, artist, live_server.ids["track"],
                                    catalog.Upload(stream, stem.path.name, "audio/wav"), stem.name)
            names.append(stem.name)
    yield names


def grant_on_album(live_server: LiveServer, scope: Scope) -> int:
    """The artist grants ``scope`` on the whole seeded album (as they would in the console)."""
    with live_server.app.state.sessionmaker.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        grant = catalog.grant_consent(session, artist, scope, asset_id=None, album_id=live_server.ids["album"],
                                      expires_at=None, terms="")
        return grant.id


def revoke(live_server: LiveServer, grant_id: int, reason: str) -> None:
    with live_server.app.state.sessionmaker.begin() as session:
        catalog.revoke_consent(session, session.get(User, live_server.ids["user_artist"]), grant_id, reason)


def open_track(page: Page, title: str = "Steam Rising") -> None:
    log_in(page, "fan")
    page.get_by_role("link", name="Morning Coffee").click()
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()


def test_fan_sees_the_album_with_its_artwork_and_tracks(page: Page) -> None:
    log_in(page, "fan")
    albums = page.get_by_role("list", name="Albums")
    card = albums.get_by_role("link", name="Morning Coffee")
    expect(card).to_contain_text("Alpha Band · 2026")
    expect(card.get_by_role("img")).to_have_js_property("complete", True)
    shot(page, "fan-studio")
    card.click()

    expect(page.get_by_role("heading", name="Morning Coffee", level=1)).to_be_visible()
    cover = page.get_by_role("region", name="Artwork").get_by_role("img", name="a cup of coffee on a saucer")
    expect(cover).to_be_visible()
    expect(cover).to_have_js_property("naturalWidth", 600)
    tracks = page.get_by_role("region", name="Tracks")
    expect(tracks.get_by_role("link")).to_have_text(["Steam Rising", "Last Drop"])
    expect(tracks).to_contain_text("96 BPM, C major")
    shot(page, "fan-album")


def test_track_page_lists_the_stems(page: Page, stems: list[str]) -> None:
    log_in(page, "fan")
    page.get_by_role("link", name="Morning Coffee").click()
    page.get_by_role("link", name="Steam Rising").click()
    expect(page.get_by_role("heading", name="Steam Rising", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Stems")
    expect(table.get_by_role("rowheader")).to_have_text(stems)
    expect(table).to_contain_text("44.1 kHz")
    mixer = page.get_by_role("region", name="Mixer")
    expect(mixer).to_be_visible()
    # The excerpt steers the preview and the clip only; the mixer says so (the live stage plays it all).
    expect(mixer.get_by_role("group", name="Excerpt")).to_have_accessible_description(
        re.compile("Play preview and the clip download.*live stage plays the whole track"))


def test_studio_fits_a_phone(browser: Browser, live_server: LiveServer) -> None:
    phone = browser.new_context(base_url=live_server.base_url, viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True, device_scale_factor=2)
    page = phone.new_page()
    log_in(page, "fan")
    page.get_by_role("link", name="Morning Coffee").click()
    page.get_by_role("link", name="Steam Rising").click()
    expect(page.get_by_role("button", name="Play preview")).to_be_visible()
    expect(page.get_by_role("table", name="Stems")).to_be_visible()
    # Nothing spills sideways: the page is no wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "fan-track-phone")
    phone.close()


def test_fan_moves_a_fader_and_hears_the_preview(page: Page) -> None:
    open_track(page)
    mixer = page.get_by_role("region", name="Mixer")
    soprano = mixer.get_by_role("slider", name="soprano level")
    soprano.focus()
    for _ in range(12):  # 0.5 dB a step, as a keyboard user moves it
        page.keyboard.press("ArrowLeft")
    expect(soprano).to_have_attribute("aria-valuetext", "−6.0 dB")
    mixer.get_by_role("checkbox", name="Mute bass").check()
    expect(mixer).to_contain_text("soprano, alto, tenor audible")

    with page.expect_response(lambda r: r.url.endswith("/preview") or "/preview?" in r.url) as answer:
        mixer.get_by_role("button", name="Play preview").click()
    response = answer.value
    assert response.ok, response.text()
    sent = response.request.post_data_json
    assert sent is not None
    assert sent["stems"]["soprano"]["gain_db"] == -6
    assert sent["stems"]["bass"]["mute"] is True
    # The default 20 s excerpt is previewed by its first 10 s, the longest chunk a preview may be.
    assert sent["window"]["length_seconds"] == 10
    expect(page.get_by_role("status")).to_contain_text("Playing the first 10.0 s of your 20.0 s mix")
    player = mixer.locator("audio")
    page.wait_for_function("a => a.readyState >= 1 && Number.isFinite(a.duration)", arg=player.element_handle())
    assert abs(player.evaluate("a => a.duration") - 10.0) < 0.2
    shot(page, "fan-track")


def test_clip_download_follows_consent_and_the_30_second_limit(page: Page, live_server: LiveServer) -> None:
    open_track(page)
    mixer = page.get_by_role("region", name="Mixer")
    expect(mixer).to_contain_text("Clip downloads are not released for: soprano, alto, tenor, bass")
    mixer.get_by_role("button", name="Download 30 s clip").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Not released by the artist")
    expect(status).to_contain_text("the artist has not allowed clip downloads of the soprano, alto, tenor and bass "
                                   "stems of “Steam Rising”")

    grant_id = grant_on_album(live_server, Scope.download_clip)
    try:
        page.reload()
        expect(mixer.get_by_text("Clip downloads are not released")).to_have_count(0)
        with page.expect_download() as download_info:
            mixer.get_by_role("button", name="Download 30 s clip").click()
        download = download_info.value
        assert download.suggested_filename.startswith("steam-rising-remix-")
        assert download.suggested_filename.endswith(".mp3")
        assert Path(download.path()).stat().st_size > 100_000  # 20 s at 192 kbit/s is ~480 kB
        expect(status).to_contain_text(f"Clip saved as {download.suggested_filename}")

        length = mixer.get_by_role("slider", name="Length")
        length.focus()
        page.keyboard.press("End")  # the longest window: 60 s of the track
        expect(mixer).to_contain_text("Free clips are at most 30 s")
        mixer.get_by_role("button", name="Download 30 s clip").click()
        expect(status).to_contain_text("30-second limit: free clips are limited to 30 s of output")
        shot(page, "fan-clip-refused")
    finally:
        revoke(live_server, grant_id, "test over")


def test_revoked_preview_consent_stops_the_next_preview(page: Page, live_server: LiveServer) -> None:
    open_track(page)
    mixer = page.get_by_role("region", name="Mixer")
    expect(mixer.get_by_role("button", name="Play preview")).to_be_visible()
    revoke(live_server, live_server.ids["cover_grant"], "taking a break")
    try:
        mixer.get_by_role("button", name="Play preview").click()
        status = page.get_by_role("status")
        expect(status).to_contain_text("Not released by the artist")
        # Which stems, by name; not the scope's or the assets' internal names.
        expect(status).to_contain_text("the artist has not allowed remixing of the soprano, alto, tenor and bass "
                                       "stems of “Steam Rising”")
        expect(status).not_to_contain_text("remix_preview")
        expect(status).not_to_contain_text("asset")
        page.reload()
        expect(mixer).to_contain_text("Not released for remixing")
        expect(mixer.get_by_role("button", name="Play preview")).to_have_count(0)
    finally:
        live_server.ids["cover_grant"] = grant_on_album(live_server, Scope.remix_preview)


def cover_file(live_server: LiveServer) -> Path:
    """Where the seeded cover's bytes are stored on the server's disk."""
    with live_server.app.state.sessionmaker() as session:
        cover = session.get(Asset, live_server.ids["cover"])
        assert cover is not None
        return AssetStore(live_server.settings.asset_dir).path_for(cover.storage_key)


def test_revoked_artwork_is_gone_when_the_fan_next_opens_the_album(page: Page, live_server: LiveServer) -> None:
    # Artwork uploaded a year ago: a browser may keep a file that old for weeks without asking the server again,
    # unless the server says otherwise.
    a_year_ago = cover_file(live_server).stat().st_mtime - 365 * 24 * 3600
    os.utime(cover_file(live_server), (a_year_ago, a_year_ago))
    log_in(page, "fan")
    page.get_by_role("link", name="Morning Coffee").click()
    artwork = page.get_by_role("region", name="Artwork")
    expect(artwork.get_by_role("img", name="a cup of coffee on a saucer")).to_have_js_property("complete", True)
    revoke(live_server, live_server.ids["cover_grant"], "new cover coming")
    try:
        page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Fan studio").click()
        page.get_by_role("list", name="Albums").get_by_role("link", name="Morning Coffee").click()
        expect(artwork).to_contain_text("Artwork not released")
        expect(artwork).to_contain_text("The artist has not released the artwork “Coffee cup” to fans")
        expect(artwork.get_by_role("img")).to_have_count(0)
    finally:
        live_server.ids["cover_grant"] = grant_on_album(live_server, Scope.remix_preview)


def test_a_server_fault_is_explained_in_words_not_a_status_code(page: Page, live_server: LiveServer) -> None:
    # The stored file went missing (a disk or storage fault): an unexpected fault, answered 500 with the request
    # id as the reference support looks the log line up by.
    stored = cover_file(live_server)
    hidden = stored.with_name(stored.name + ".away")
    stored.rename(hidden)
    try:
        log_in(page, "fan")
        page.get_by_role("link", name="Morning Coffee").click()
        artwork = page.get_by_role("region", name="Artwork")
        expect(artwork).to_contain_text("Something went wrong on the server: it has been logged")
        expect(artwork).to_contain_text("Please try again in a moment.")
        expect(artwork).to_contain_text(re.compile(r"\(reference [0-9a-f]{16}\)"))
        expect(artwork).not_to_contain_text("HTTP")
        expect(artwork).not_to_contain_text(re.compile(r"\b500\b"))  # the reference is hex: no word boundary
    finally:
        hidden.rename(stored)
