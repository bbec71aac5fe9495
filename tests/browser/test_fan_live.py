"""The fan journey on the live stage: log in, play, prompt the visuals, move a fader, download a clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocket, expect

from remix.auth.models import User
from remix.catalog import service as catalog
from remix.catalog.models import Scope
from remix.demo.media import DemoAlbumMedia
from remix.live.hub import LiveConfig
from remix.visuals import service as visuals
from tests.browser.support import LiveServer, log_in, shot

pytestmark = pytest.mark.browser

# Small frames and few denoising steps: the test is about the page, not the picture's quality.
LIVE_CONFIG = LiveConfig(frame_steps=2, frame_size=64, consent_recheck_seconds=0.2, max_fps=10.0)


@pytest.fixture(scope="module", autouse=True)
def live_album(live_server: LiveServer, chorale: DemoAlbumMedia) -> None:
    """The chorale's stems on "Steam Rising", clips released, and a tiny visual model trained and approved."""
    app, settings = live_server.app, live_server.settings
    app.state.live_config = LIVE_CONFIG
    factory = app.state.sessionmaker
    with factory.begin() as session:
        artist = session.get(User, live_server.ids["user_artist"])
        assert artist is not None
        for stem in chorale.tracks[0].stems:
            with stem.path.open("rb") as stream:
                catalog.upload_stem(session, settings, artist, live_server.ids["track"],
                                    catalog.Upload(stream, stem.path.name, "audio/wav"), stem.name)
        for scope in (Scope.download_clip, Scope.train_visual):
            catalog.grant_consent(session, artist, scope, asset_id=None, album_id=live_server.ids["album"],
                                  expires_at=None, terms="")
        model = visuals.start_training(session, settings, artist, live_server.ids["album"], preset="tiny", steps=2,
                                       seed=1)
        model_id = model.id
    outcome = visuals.run_training(factory, settings, model_id)
    assert outcome.status.value == "awaiting_approval", outcome.error
    with factory.begin() as session:
        visuals.approve(session, session.get(User, live_server.ids["user_artist"]), model_id)
        visuals.set_prompt_rules(session, session.get(User, live_server.ids["user_artist"]), live_server.ids["artist"],
                                 ["volcano"])


def canvas_pixels(page: Page) -> str:
    return str(page.get_by_role("img", name="Live visuals for Steam Rising").evaluate("c => c.toDataURL('image/png')"))


def test_fan_plays_prompts_the_visuals_moves_a_fader_and_downloads_a_clip(page: Page) -> None:
    sent: list[dict[str, object]] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)) if isinstance(payload, str) else None)

    page.on("websocket", watch)
    log_in(page, "fan")
    page.get_by_role("link", name="Morning Coffee").click()
    page.get_by_role("link", name="Steam Rising").click()
    stage = page.get_by_role("region", name="Live stage")
    expect(stage).to_contain_text("Visuals are ready: type a prompt")
    before = canvas_pixels(page)

    stage.get_by_role("button", name="Play").click()
    expect(stage.get_by_role("button", name="Pause")).to_have_attribute("aria-pressed", "true")
    # The server's mixed audio arrives and is scheduled through Web Audio; the playhead moves.
    expect(stage.get_by_label("Playhead")).not_to_have_text("0:00.0")

    # A refused prompt says why, and nothing changes.
    stage.get_by_label("Prompt").fill("a volcano erupting")
    stage.get_by_role("button", name="Send prompt").click()
    expect(page.get_by_role("status")).to_contain_text("Prompt refused")
    expect(page.get_by_role("status")).to_contain_text("volcano")

    stage.get_by_label("Prompt").fill("a cup of coffee glowing at night")
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
    expect(saved).to_contain_text("a cup of coffee glowing at night")

    with page.expect_download() as visual_info:
        stage.get_by_role("button", name="Download visual").click()
    assert visual_info.value.suggested_filename.endswith(".jpg")
