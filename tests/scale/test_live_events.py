"""Consent news through Redis pub/sub: a revocation committed on one API process stops a fan's live session
on another at once, not at that process's next consent recheck."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from remix.app import create_app
from remix.config import Settings
from remix.db import make_engine, make_sessionmaker
from remix.live.hub import LiveHub
from remix.live.protocol import FrameKind
from remix.scale.live_events import CONSENT_CHANNEL, ConsentNewsListener, announce_after_commit, publish_to
from remix.scale.redis_conn import redis_client
from tests.conftest import World
from tests.live.conftest import TEST_CONFIG, LiveTrack, frames, receive, receive_json, reply_to
from tests.ops.test_ops import REDIS_URL

# The fan's process re-checks consent only once a minute: only the news can stop its session sooner.
SLOW_RECHECK = dataclasses.replace(TEST_CONFIG, consent_recheck_seconds=60.0)


@contextmanager
def two_api_processes(settings: Settings) -> Iterator[tuple[TestClient, TestClient, ConsentNewsListener]]:
    """A fan's API process (its live sessions hear consent news, and re-check only once a minute otherwise)
    and an artist's, both in production mode on the same Redis."""
    production = settings.model_copy(update={"redis_url": REDIS_URL})
    with TestClient(create_app(production)) as fan_process, TestClient(create_app(production)) as artist_process:
        app = fan_process.app
        listener = ConsentNewsListener(REDIS_URL)
        hub = LiveHub(production, app.state.sessionmaker, SLOW_RECHECK,  # type: ignore[attr-defined]
                      store=app.state.live_session_store)  # type: ignore[attr-defined]
        hub.consent_news_source = listener
        app.state.live_hub = hub  # type: ignore[attr-defined]
        yield fan_process, artist_process, listener


def revoke_and_time(artist_process: TestClient, world: World, grant_id: int, ws: WebSocketTestSession,
                    told: Callable[[dict[str, Any]], bool]) -> tuple[dict[str, Any], float]:
    """Revoke ``grant_id`` on the artist's process; the fan's first message that ``told`` accepts, and how long
    after the revocation's answer it came."""
    r = artist_process.post(f"/api/consent/grants/{grant_id}/revoke", json={"reason": "changed my mind"},
                            headers=world.headers("alpha"))
    assert r.status_code == 200, r.text
    revoked_at = time.monotonic()
    for _ in range(5000):
        message = receive(ws)
        if isinstance(message, dict) and told(message):
            return message, time.monotonic() - revoked_at
    raise AssertionError("the fan's session was not told")


def test_a_revocation_on_one_api_process_stops_a_fan_live_on_another(settings: Settings,
                                                                     live_track: LiveTrack) -> None:
    world = live_track.world
    with two_api_processes(settings) as (fan_process, artist_process, listener), \
            fan_process.websocket_connect(live_track.ws_url(), headers=world.headers("fan")) as ws:
        receive_json(ws)
        ws.send_text(json.dumps({"type": "play", "id": "p"}))
        assert reply_to(ws, "p")["type"] == "ack"
        frames(ws, FrameKind.audio_wav, 2)
        assert listener.subscribed.wait(10)
        message, told_after = revoke_and_time(artist_process, world, live_track.grant_ids["remix_preview"], ws,
                                              lambda m: m.get("error") == "ConsentNotGranted")
        assert "rendering has stopped" in message["detail"]
        state = receive_json(ws)
        assert state["rendering"] is False and state["playing"] is False
    # Well inside the minute the fan's process would otherwise take (bounded loosely: a shared 2-core machine).
    print(f"revocation on one process → fan on another told in {told_after:.3f} s")
    assert told_after < 10, told_after


def test_a_model_withdrawn_on_one_api_process_stops_a_fans_visuals_on_another(settings: Settings,
                                                                              visual_track: LiveTrack) -> None:
    world = visual_track.world
    model_id = world.client.get(f"/api/visual-models?album_id={visual_track.album_id}",
                                headers=world.headers("alpha")).json()[0]["id"]
    news = redis_client(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    news.subscribe(CONSENT_CHANNEL)
    news.get_message(timeout=1.0)
    with two_api_processes(settings) as (fan_process, artist_process, listener), \
            fan_process.websocket_connect(visual_track.ws_url(), headers=world.headers("fan")) as ws:
        while (state := receive_json(ws))["type"] != "state":
            pass
        assert state["visuals"]["available"] is True
        ws.send_text(json.dumps({"type": "prompt", "id": "p", "text": "astronaut in an orange suit"}))
        assert reply_to(ws, "p")["type"] == "ack"
        frames(ws, FrameKind.image_jpeg, 1)
        assert listener.subscribed.wait(10)
        # The train_visual grant withdraws the model; the fan still has remix_preview, so the music plays on.
        message, told_after = revoke_and_time(artist_process, world, visual_track.grant_ids["train_visual"], ws,
                                              lambda m: m.get("notice") == "VisualsStopped")
        assert message["detail"] == "visuals are off: the artist has withdrawn these visuals"
        assert message["model_id"] == model_id and f"visual model {model_id}" in message["cause"]
    published = []
    while (item := news.get_message(timeout=1.0)) is not None:
        published.append(json.loads(item["data"]))
    news.close()
    assert {"kind": "visual_model_withdrawn", "model_id": model_id} in published
    print(f"model withdrawn on one process → fan's visuals on another stopped in {told_after:.3f} s")
    assert told_after < 10, told_after


def test_news_is_published_only_when_the_transaction_commits(settings: Settings) -> None:
    publish_to(REDIS_URL)
    pubsub = redis_client(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CONSENT_CHANNEL)
    pubsub.get_message(timeout=1.0)  # the subscription's confirmation
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            announce_after_commit(session, "consent_revoked", grant_id=41)
            session.rollback()  # a revocation that failed: nobody may be told
        assert pubsub.get_message(timeout=0.5) is None
        with make_sessionmaker(engine)() as session:
            announce_after_commit(session, "consent_revoked", grant_id=42)
            assert pubsub.get_message(timeout=0.3) is None  # not before the commit either
            session.commit()
        message = pubsub.get_message(timeout=2.0)
        assert message is not None and json.loads(message["data"]) == {"kind": "consent_revoked", "grant_id": 42}
    finally:
        pubsub.close()
        engine.dispose()
