"""An artist manages an album: uploads, refusals, and consent grants that fans feel at once."""

from __future__ import annotations

import io

import pytest
import soundfile as sf
from playwright.sync_api import Browser, Locator, Page, expect

from remix.demo.media import DemoAlbumMedia
from tests.browser.support import LiveServer, file_payload, log_in, page_width, photo_png, shot

pytestmark = pytest.mark.browser


def open_album(page: Page, title: str) -> None:
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Consent grants")).to_be_visible()


def grant_row(page: Page, scope: str, covers: str) -> Locator:
    table = page.get_by_role("table", name="Consent grants")
    return table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=scope)).filter(has_text=covers)


def test_artist_uploads_artwork_and_sees_it_listed(page: Page) -> None:
    log_in(page, "artist")
    open_album(page, "Morning Coffee")
    upload = page.get_by_role("form", name="Upload artwork")
    photo = file_payload("astronaut.png", "image/png", photo_png("astronaut"))
    upload.get_by_label("Image file").set_input_files(photo)
    upload.get_by_label("Title (optional)").fill("Spacewalk")
    upload.get_by_label("Caption").fill("an astronaut in a white suit in front of a flag")
    upload.get_by_role("button", name="Upload artwork").click()

    expect(page.get_by_role("status")).to_contain_text("Artwork “Spacewalk” uploaded (512×512)")
    artwork = page.get_by_role("region", name="Artwork", exact=True)
    figure = artwork.locator("figure").filter(has_text="Spacewalk")
    expect(figure).to_contain_text("an astronaut in a white suit")
    expect(figure.get_by_role("img")).to_have_js_property("naturalWidth", 512)
    expect(upload.get_by_role("progressbar")).to_have_attribute("value", "100")
    shot(page, "artist-album")


def test_fake_image_is_refused_with_the_reason(page: Page) -> None:
    log_in(page, "artist")
    open_album(page, "Morning Coffee")
    upload = page.get_by_role("form", name="Upload artwork")
    fake = file_payload("cover.png", "image/png", b"this is a text file, not a picture\n" * 20)
    upload.get_by_label("Image file").set_input_files(fake)
    upload.get_by_role("button", name="Upload artwork").click()

    status = page.get_by_role("status")
    expect(status).to_contain_text("File type refused")
    expect(status).to_contain_text("'cover.png' is not an image we can decode")
    expect(status).to_have_attribute("data-tone", "error")
    expect(page.get_by_role("region", name="Artwork", exact=True).locator("figure")).not_to_have_count(0)
    expect(page.get_by_role("region", name="Artwork", exact=True)).not_to_contain_text("cover.png")
    shot(page, "artist-upload-refused")


def test_grant_and_revoke_change_what_the_fan_sees(page: Page, browser: Browser, live_server: LiveServer) -> None:
    log_in(page, "artist")
    page.get_by_label("Album title").fill("Night Shift")
    page.get_by_label("Year (optional)").fill("2025")
    page.get_by_role("button", name="Create album").click()
    expect(page.get_by_role("heading", name="Night Shift", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Album “Night Shift” created")
    expect(page.get_by_text("Nothing granted yet")).to_be_visible()

    upload = page.get_by_role("form", name="Upload artwork")
    upload.get_by_label("Image file").set_input_files(file_payload("rocket.png", "image/png", photo_png("rocket")))
    upload.get_by_label("Title (optional)").fill("Launch")
    upload.get_by_role("button", name="Upload artwork").click()
    expect(page.get_by_role("status")).to_contain_text("Artwork “Launch” uploaded")

    # Release the cover to fans (remix_preview) on that one image, with an expiry a year ahead.
    form = page.get_by_role("form", name="Grant a use")
    form.get_by_label("Use (scope)").select_option("remix_preview")
    form.get_by_label("Covers").select_option(label="Artwork: Launch")
    form.get_by_label("Expires (optional, your local time)").fill("2099-06-30T18:00")
    form.get_by_role("button", name="Grant").click()
    expect(page.get_by_role("status")).to_contain_text("Granted “Remix preview” on Artwork: Launch")
    row = grant_row(page, "Remix preview", "Artwork: Launch")
    expect(row).to_contain_text("Live")
    expect(row).to_contain_text("2099")
    shot(page, "artist-consent")

    # The fan sees the cover while the grant is live.
    fan = browser.new_context(base_url=live_server.base_url, viewport={"width": 1280, "height": 900})
    fan_page = fan.new_page()
    log_in(fan_page, "fan")
    fan_page.get_by_role("link", name="Night Shift").click()
    fan_art = fan_page.get_by_role("region", name="Artwork")
    expect(fan_art.get_by_role("img", name="Launch")).to_be_visible()

    # The artist revokes it, giving a reason in the confirmation dialog.
    row.get_by_role("button", name="Revoke Remix preview on Artwork: Launch").click()
    dialog = page.get_by_role("dialog", name="Revoke consent?")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason (kept in the audit log)").fill("cover is being redesigned")
    shot(page, "artist-revoke-dialog")
    dialog.get_by_role("button", name="Revoke grant").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("Revoked “Remix preview” on Artwork: Launch")
    expect(row).to_contain_text("Revoked")
    expect(row).to_contain_text("cover is being redesigned")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    # Keyboard users stay on the revoked grant's row, not thrown back to the top of the page.
    expect(row.get_by_role("rowheader")).to_be_focused()

    # After revocation the fan's next look shows why the cover is missing, not the cover.
    fan_page.reload()
    expect(fan_art.get_by_text("Artwork not released")).to_be_visible()
    expect(fan_art).to_contain_text("The artist has not released the artwork “Launch” to fans")
    expect(fan_art.get_by_role("img")).to_have_count(0)
    shot(fan_page, "fan-artwork-withheld")
    fan.close()


def test_album_page_fits_a_phone(browser: Browser, live_server: LiveServer) -> None:
    phone = browser.new_context(base_url=live_server.base_url, viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True)
    page = phone.new_page()
    log_in(page, "artist")
    open_album(page, "Morning Coffee")
    # The grants table is wider than a phone: it scrolls inside its own box, the page does not.
    table = page.get_by_role("table", name="Consent grants")
    expect(table.get_by_role("button", name="Revoke").first).to_be_attached()
    assert page_width(page) <= 390
    table.get_by_role("button", name="Revoke").first.scroll_into_view_if_needed()
    expect(table.get_by_role("button", name="Revoke").first).to_be_in_viewport()
    shot(page, "artist-album-phone")
    phone.close()


def test_cancelling_the_revoke_dialog_keeps_the_grant(page: Page) -> None:
    log_in(page, "artist")
    open_album(page, "Morning Coffee")
    row = grant_row(page, "Remix preview", "Whole album")
    row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog", name="Revoke consent?")
    expect(dialog.get_by_label("Reason (kept in the audit log)")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(row).to_contain_text("Live")


def test_artist_adds_a_track(page: Page) -> None:
    log_in(page, "artist")
    open_album(page, "Morning Coffee")
    form = page.get_by_role("form", name="Add a track")
    expect(form.get_by_label("Position")).to_have_value("3")
    form.get_by_label("Track title").fill("Refill")
    form.get_by_label("BPM (optional)").fill("88")
    form.get_by_role("button", name="Add track").click()
    expect(page.get_by_role("status")).to_contain_text("Track “Refill” added")
    expect(page.get_by_role("region", name="Tracks and stems")).to_contain_text("Refill")
    expect(form.get_by_label("Position")).to_have_value("4")
    # The new track can take stems at once.
    expect(page.get_by_role("form", name="Upload a stem").get_by_label("Track")).to_contain_text("3. Refill")


def test_artist_uploads_a_stem_with_its_name(page: Page, chorale: DemoAlbumMedia) -> None:
    soprano = chorale.tracks[0].stems[0]
    audio, rate = sf.read(soprano.path, frames=5 * 44_100, dtype="int16")  # the chorale's first 5 s
    wav = io.BytesIO()
    sf.write(wav, audio, rate, format="WAV", subtype="PCM_16")

    log_in(page, "artist")
    open_album(page, "Morning Coffee")
    form = page.get_by_role("form", name="Upload a stem")
    form.get_by_label("Track").select_option(label="2. Last Drop")
    form.get_by_label("Stem name").fill("soprano")
    form.get_by_label("Audio file").set_input_files(file_payload("soprano.wav", "audio/wav", wav.getvalue()))
    form.get_by_role("button", name="Upload stem").click()
    expect(page.get_by_role("status")).to_contain_text("Stem “soprano” uploaded (5.0 s)")
    expect(form.get_by_role("progressbar", name="Stem upload progress")).to_have_attribute("value", "100")
    expect(form).to_contain_text("Upload complete")
    tracks = page.get_by_role("region", name="Tracks and stems")
    expect(tracks.get_by_role("listitem").filter(has_text="Last Drop")).to_contain_text("stems: soprano (0:05.0)")
    # The new stem can be granted on its own.
    grant = page.get_by_role("form", name="Grant a use").get_by_label("Covers")
    expect(grant).to_contain_text("Stem: Last Drop — soprano")

    # A second stem with the same name on that track is refused, with the reason.
    form.get_by_label("Stem name").fill("soprano")
    form.get_by_label("Audio file").set_input_files(file_payload("again.wav", "audio/wav", wav.getvalue()))
    form.get_by_role("button", name="Upload stem").click()
    expect(page.get_by_role("status")).to_contain_text("Already exists: track")
    expect(page.get_by_role("status")).to_contain_text("already has a stem named 'soprano'")
