"""Live-session fixtures: a track with four short real stems (a Bach chorale), grants, and a tiny visual model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from remix.audio.decode import process_cache
from remix.live.hub import LiveConfig
from remix.live.protocol import Frame, FrameKind, unpack_frame
from tests.audio.conftest import STEM_NAMES, write_chorale_stems
from tests.conftest import World
from tests.visuals.conftest import artwork_images, png_bytes

STEM_SECONDS = 3.0
# Small and quick: 2 denoising steps, 64 px frames, consent re-checked 5× a second.
TEST_CONFIG = LiveConfig(frame_steps=2, frame_size=64, consent_recheck_seconds=0.2, max_fps=20.0)


@pytest.fixture(scope="session")
def short_stems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The first 3 s of the four voices of BWV 66.6 (synthesised from the real score)."""
    return write_chorale_stems(tmp_path_factory.mktemp("live-stems"), STEM_SECONDS)


@pytest.fixture
def _live_setup(client: TestClient) -> Iterator[None]:
    client.app.state.live_config = TEST_CONFIG  # type: ignore[attr-defined]
    process_cache().clear()
    yield
    process_cache().clear()


@dataclass
class LiveTrack:
    world: World
    track_id: int
    album_id: int
    artist_id: int
    stem_ids: dict[str, int]
    grant_ids: dict[str, int]

    def ws_url(self, session: str | None = None) -> str:
        return f"/api/tracks/{self.track_id}/live" + (f"?session={session}" if session else "")


def grant(world: World, scope: str, album_id: int) -> int:
    r = world.client.post("/api/consent/grants", json={"scope": scope, "album_id": album_id},
                          headers=world.headers("alpha"))
    assert r.status_code == 201, r.text
    grant_id: int = r.json()["id"]
    return grant_id


def revoke(world: World, grant_id: int) -> None:
    r = world.client.post(f"/api/consent/grants/{grant_id}/revoke", json={"reason": "changed my mind"},
                          headers=world.headers("alpha"))
    assert r.status_code == 200, r.text


@pytest.fixture
def live_track(world: World, short_stems: dict[str, Path], _live_setup: None) -> LiveTrack:
    """Alpha's track with its four stems and a live remix_preview grant on the album."""
    track_id, album_id = world.track_ids["alpha"], world.album_ids["alpha"]
    stem_ids = {}
    for name in STEM_NAMES:
        with short_stems[name].open("rb") as f:
            r = world.client.post(f"/api/tracks/{track_id}/stems", headers=world.headers("alpha"),
                                  data={"stem_name": name}, files={"file": (f"{name}.wav", f, "audio/wav")})
        assert r.status_code == 201, r.text
        stem_ids[name] = r.json()["id"]
    grants = {"remix_preview": grant(world, "remix_preview", album_id)}
    return LiveTrack(world, track_id, album_id, world.artist_ids["alpha"], stem_ids, grants)


def train_approved_tiny_model(world: World, album_id: int) -> int:
    """A live visual model for the album (its artist holds a live train_visual grant): artwork uploaded, 2 steps
    of the tiny preset trained and approved by the artist. Returns the model id."""
    image, caption = artwork_images()[0]
    r = world.client.post(f"/api/albums/{album_id}/artwork", headers=world.headers("alpha"),
                          data={"title": "Orange", "caption": caption},
                          files={"file": ("art.png", png_bytes(image), "image/png")})
    assert r.status_code == 201, r.text
    r = world.client.post(f"/api/albums/{album_id}/visual-models", headers=world.headers("alpha"),
                          json={"preset": "tiny", "steps": 2, "seed": 1})
    assert r.status_code == 202, r.text
    model_id: int = r.json()["id"]
    deadline = time.monotonic() + 120
    while (status := world.client.get(f"/api/visual-models/{model_id}",
                                      headers=world.headers("alpha")).json()["status"]) == "training":
        assert time.monotonic() < deadline, "training the tiny model took too long"
        time.sleep(0.1)
    assert status == "awaiting_approval"
    r = world.client.post(f"/api/visual-models/{model_id}/approve", headers=world.headers("alpha"))
    assert r.status_code == 200, r.text
    return model_id


@pytest.fixture
def visual_track(live_track: LiveTrack) -> LiveTrack:
    """The same track, with a tiny visual model trained on the album's artwork (2 steps) and approved."""
    live_track.grant_ids["train_visual"] = grant(live_track.world, "train_visual", live_track.album_id)
    train_approved_tiny_model(live_track.world, live_track.album_id)
    return live_track


def receive(ws: WebSocketTestSession) -> dict[str, Any] | Frame:
    """The next server message: a JSON dict, or an unpacked binary frame."""
    message = ws.receive()
    if message.get("text") is not None:
        data: dict[str, Any] = json.loads(message["text"])
        return data
    return unpack_frame(message["bytes"])


def receive_json(ws: WebSocketTestSession, *, kinds: tuple[str, ...] = ("ack", "error", "state", "notice"),
                 limit: int = 2000) -> dict[str, Any]:
    """The next JSON message (skipping media frames)."""
    for _ in range(limit):
        message = receive(ws)
        if isinstance(message, dict):
            assert message["type"] in kinds, message
            return message
    raise AssertionError("no JSON message arrived")


def reply_to(ws: WebSocketTestSession, message_id: str, limit: int = 2000) -> dict[str, Any]:
    """The ack or error answering ``message_id`` (other messages and frames are skipped)."""
    for _ in range(limit):
        message = receive(ws)
        if isinstance(message, dict) and message.get("id") == message_id:
            return message
    raise AssertionError(f"no reply to {message_id}")


def frames(ws: WebSocketTestSession, kind: FrameKind, count: int, limit: int = 5000) -> list[Frame]:
    got: list[Frame] = []
    for _ in range(limit):
        message = receive(ws)
        if isinstance(message, Frame) and message.kind == kind:
            got.append(message)
            if len(got) == count:
                return got
    raise AssertionError(f"only {len(got)} of {count} {kind.name} frames arrived")
