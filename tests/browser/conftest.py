"""A real Remix server on loopback and one headless Debian Chromium per test module.

The server is the real app (uvicorn, file SQLite database migrated at start, assets on disk) seeded
through the same services the API uses. Pages talk to it over HTTP exactly as a user's browser would.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from remix.app import create_app
from remix.auth import service as accounts
from remix.auth.models import Role
from remix.catalog import service as catalog
from remix.catalog.models import Scope
from remix.config import Settings
from remix.demo.media import DemoAlbumMedia, build_demo_media
from tests.browser.support import PASSWORD, LiveServer, photo_png
from tests.commerce.conftest import localstripe  # noqa: F401  (the fan's purchase runs against it)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# The machine running the suite may be busy; waiting a little longer for the page costs nothing when it is not.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def chorale(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoAlbumMedia:
    """One Bach chorale rendered to four real stems.

    Not the shared ``demo_media`` (three chorales): one is all these tests play, and keeping it in pytest's
    cache folder between runs saves the browser suite the render (tens of seconds on a busy machine).
    """
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    folder = Path(cache.mkdir("remix-demo-media")) if cache is not None else tmp_path_factory.mktemp("demo-media")
    return build_demo_media(folder, track_count=1)


def seed(app: FastAPI, settings: Settings, ids: dict[str, int]) -> None:
    """One account of each role, an artist with an album of two tracks, its cover released to fans."""
    with app.state.sessionmaker.begin() as session:
        admin = accounts.create_user(session, email="admin@test.example", display_name="Ada Admin",
                                     password=PASSWORD, role=Role.admin)
        artist = catalog.create_artist(session, admin, "Alpha Band", "")
        album = catalog.create_album(session, admin, artist.id, "Morning Coffee", 2026)
        first = catalog.create_track(session, admin, album.id, "Steam Rising", 1, 96.0, "C major")
        second = catalog.create_track(session, admin, album.id, "Last Drop", 2, 120.0, "A minor")
        cover = catalog.upload_artwork(
            session, settings, admin, album.id,
            catalog.Upload(io.BytesIO(photo_png("coffee")), "coffee.png", "image/png"),
            "Coffee cup", "a cup of coffee on a saucer, seen from above")
        grant = catalog.grant_consent(session, admin, Scope.remix_preview, asset_id=None, album_id=album.id,
                                      expires_at=None, terms="")
        for key, name, role, artist_ids in (
            ("fan", "Fiona Fan", Role.fan, []),
            ("finance", "Frank Finance", Role.finance, []),
            ("artist", "Alpha Manager", Role.artist, [artist.id]),
        ):
            user = accounts.create_user(session, email=f"{key}@test.example", display_name=name,
                                        password=PASSWORD, role=role, artist_ids=artist_ids)
            ids[f"user_{key}"] = user.id
        ids.update(artist=artist.id, album=album.id, track=first.id, track2=second.id, cover=cover.id,
                   cover_grant=grant.id)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("live")
    settings = Settings(environment="test", database_url=f"sqlite:///{root / 'remix.db'}", data_dir=root / "data",
                        migrate_on_start=True, max_image_bytes=4 * 1024 * 1024)
    app = create_app(settings)
    server_info = LiveServer(base_url="", app=app, settings=settings)
    seed(app, settings, server_info.ids)

    sock = free_socket()
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Remix server did not start")
        time.sleep(0.02)
    server_info.base_url = f"http://{host}:{port}"
    yield server_info
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookies carried over between users."""
    ctx = browser.new_context(base_url=live_server.base_url, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any uncaught script error."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert errors == [], f"script errors in the page: {errors}"
