"""The artist journey: upload artwork, grant train_visual, train and approve a model, revoke, see it withdrawn."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import file_payload, log_in, photo_png, shot

pytestmark = pytest.mark.browser


def test_revoking_train_visual_withdraws_the_model_trained_under_it(page: Page) -> None:
    log_in(page, "artist")
    page.get_by_role("link", name="Morning Coffee").click()
    expect(page.get_by_role("heading", name="Morning Coffee", level=1)).to_be_visible()

    upload = page.get_by_role("form", name="Upload artwork")
    upload.get_by_label("Image file").set_input_files(file_payload("rocket.png", "image/png", photo_png("rocket")))
    upload.get_by_label("Title (optional)").fill("Launch")
    upload.get_by_label("Caption").fill("a rocket on the launch pad under a blue sky")
    upload.get_by_role("button", name="Upload artwork").click()
    expect(page.get_by_role("status")).to_contain_text("Artwork “Launch” uploaded")

    grant = page.get_by_role("form", name="Grant a use")
    grant.get_by_label("Use (scope)").select_option(label="Train visuals")
    grant.get_by_label("Covers").select_option(label="Artwork: Launch")
    grant.get_by_role("button", name="Grant").click()
    expect(page.get_by_role("status")).to_contain_text("Granted “Train visuals” on Artwork: Launch")

    train = page.get_by_role("form", name="Train a visual model")
    train.get_by_label("Preset").select_option("tiny")
    train.get_by_label("Steps (optional)").fill("2")
    train.get_by_role("button", name="Start training").click()
    # The first training in a process imports torch and diffusers: allow for it on a busy machine.
    expect(page.get_by_role("status")).to_contain_text("Training model", timeout=90_000)
    models = page.get_by_role("region", name="Visual models")
    model = models.get_by_role("listitem").first
    # Training runs in the server's background thread; the panel polls it until it waits for review.
    expect(model).to_contain_text("Awaiting your approval", timeout=90_000)
    expect(model.get_by_role("img", name="Sample grid")).to_have_js_property("complete", True)
    model.get_by_role("button", name="Approve").click()
    expect(model).to_contain_text("Live")
    expect(model).to_be_focused()  # not dropped to the top of the page with the Approve button

    table = page.get_by_role("table", name="Consent grants")
    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Train visuals"))
    expect(row).to_contain_text("(live)")  # "Used by: Model N (live)"
    shot(page, "artist-models")

    row.get_by_role("button", name="Revoke Train visuals on Artwork: Launch").click()
    dialog = page.get_by_role("dialog", name="Revoke consent?")
    dialog.get_by_label("Reason (kept in the audit log)").fill("not for machine learning")
    dialog.get_by_role("button", name="Revoke grant").click()
    expect(page.get_by_role("status")).to_contain_text("Revoked “Train visuals” on Artwork: Launch")
    expect(model).to_contain_text("Withdrawn")
    expect(model.get_by_role("note")).to_contain_text("Withdrawn")
    expect(row).to_contain_text("(withdrawn)")
    shot(page, "artist-model-withdrawn")
