"""Limits hold under a flood on loopback: oversized uploads, message and prompt floods on the live socket.

A real uvicorn server on 127.0.0.1 and real clients (httpx, websockets): what a misbehaving client sees.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from websockets.sync.client import ClientConnection, connect

from remix.catalog.models import Asset
from tests.catalog import samples
from tests.live.conftest import TEST_CONFIG, LiveTrack
from tests.loopback import served


def _replies(ws: ClientConnection, ids: set[str], timeout: float = 20.0) -> dict[str, dict[str, Any]]:
    """The reply to each of ``ids`` (binary frames and other messages are skipped)."""
    got: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(ids):
        message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, str):
            data = json.loads(message)
            if data.get("id") in ids:
                got[data["id"]] = data
    return got


@contextmanager
def _open(base: str, live: LiveTrack, who: str = "fan") -> Iterator[ClientConnection]:
    # max_queue=None: the client's reader thread keeps taking what the server sends (audio chunks, replies)
    # while the test is still sending its flood. With the default queue of 16 it stopped reading, the server's
    # writes backed up, and under a busy machine the server rightly closed the fan as not reading (4408).
    with connect(base.replace("http", "ws") + live.ws_url(), additional_headers=live.world.headers(who),
                 max_size=1 << 22, max_queue=None) as ws:
        state = json.loads(ws.recv(timeout=10))
        assert state["type"] == "state", state
        yield ws


def test_message_flood_is_rate_limited_and_every_message_is_answered(live_track: LiveTrack) -> None:
    app: FastAPI = live_track.world.client.app  # type: ignore[assignment]
    with served(app) as base, _open(base, live_track) as ws:
        started = time.monotonic()
        ids = {f"m{i}" for i in range(400)}
        for i in range(400):
            ws.send(json.dumps({"type": "ping", "id": f"m{i}"}))
        replies = _replies(ws, ids)
        elapsed = time.monotonic() - started
        acks = [r for r in replies.values() if r["type"] == "ack"]
        limited = [r for r in replies.values() if r.get("error") == "RateLimited"]
        assert len(acks) + len(limited) == 400  # nothing unanswered, nothing else
        # A burst of 100, then 50 a second: the flood cannot get more through than the bucket allows.
        assert len(acks) <= TEST_CONFIG.message_burst + TEST_CONFIG.messages_per_second * elapsed + 1
        assert len(limited) >= 400 - (TEST_CONFIG.message_burst + TEST_CONFIG.messages_per_second * elapsed + 1)
        assert "retry in" in limited[0]["detail"]
        time.sleep(0.2)  # the bucket refills: the fan is throttled, not cut off
        ws.send(json.dumps({"type": "ping", "id": "after"}))
        assert _replies(ws, {"after"})["after"]["type"] == "ack"


def test_prompt_flood_is_held_to_the_prompt_rate(live_track: LiveTrack) -> None:
    app: FastAPI = live_track.world.client.app  # type: ignore[assignment]
    with served(app) as base, _open(base, live_track) as ws:
        started = time.monotonic()
        ids = {f"p{i}" for i in range(40)}
        for i in range(40):
            ws.send(json.dumps({"type": "prompt", "id": f"p{i}", "text": f"golden light {i}"}))
        replies = _replies(ws, ids)
        elapsed = time.monotonic() - started
        acks = [r for r in replies.values() if r["type"] == "ack"]
        limited = [r for r in replies.values() if r.get("error") == "RateLimited"]
        assert len(acks) + len(limited) == 40
        assert 1 <= len(acks) <= TEST_CONFIG.prompt_burst + TEST_CONFIG.prompts_per_second * elapsed + 1
        assert "prompts per second" in limited[0]["detail"]


def test_oversized_upload_flood_is_refused_whole_and_leaves_nothing(live_track: LiveTrack) -> None:
    world = live_track.world
    app: FastAPI = world.client.app  # type: ignore[assignment]
    limit = app.state.settings.max_image_bytes
    # A real JPEG padded past the limit: the bytes are refused while streaming, before any decoding.
    body = samples.photo("chelsea", "JPEG") + b"\0" * (limit + 1)
    album = world.album_ids["alpha"]
    with app.state.sessionmaker() as session:
        assets_before = session.scalar(select(func.count()).select_from(Asset))
    asset_dir: Path = app.state.settings.asset_dir
    files_before = {p for p in asset_dir.rglob("*") if p.is_file()}

    with served(app) as base:
        def upload(i: int) -> int:
            response = httpx.post(f"{base}/api/albums/{album}/artwork", headers=world.headers("alpha"),
                                  files={"file": (f"big{i}.jpg", body, "image/jpeg")}, timeout=60)
            return response.status_code if response.json()["error"] == "PayloadTooLarge" else -response.status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(upload, range(24)))
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200  # still answering

    assert statuses == [413] * 24
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == assets_before
    assert {p for p in asset_dir.rglob("*") if p.is_file()} == files_before  # no staged file left behind
