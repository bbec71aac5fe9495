"""What browser tests share besides fixtures: the seeded server's handle and user-level actions."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from PIL import Image
from playwright.sync_api import FilePayload, Page
from skimage import data as skimage_data

from remix.config import Settings

PASSWORD = "correct horse battery"
SHOTS = Path("/tmp/remix-shots")


def photo_png(name: str) -> bytes:
    """A real photograph bundled with scikit-image, encoded as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(getattr(skimage_data, name)()).save(buffer, format="PNG")
    return buffer.getvalue()


def file_payload(name: str, media_type: str, content: bytes) -> FilePayload:
    """A file for ``set_input_files``, as if the user picked ``name`` on their disk."""
    return {"name": name, "mimeType": media_type, "buffer": content}


@dataclass
class LiveServer:
    """The running app and the ids of what was seeded."""

    base_url: str
    app: FastAPI
    settings: Settings
    ids: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot for people to look at (not compared by the tests)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def page_width(page: Page) -> int:
    """How wide the page's content is: wider than the viewport means the whole page scrolls sideways."""
    return int(page.evaluate("document.documentElement.scrollWidth"))


def log_in(page: Page, who: str) -> None:
    """Start a session as the seeded account ``who`` and open the app at its landing page.

    The session cookie comes from the API directly (the login form itself is tested on its own), which
    keeps the journeys that merely need a logged-in user quick.
    """
    response = page.context.request.post("/api/auth/login",
                                         data={"email": f"{who}@test.example", "password": PASSWORD})
    assert response.ok, response.text()
    page.goto("/app/")
    page.get_by_role("button", name="Log out").wait_for()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
