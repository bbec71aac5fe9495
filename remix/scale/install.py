"""Production mode wiring: with ``REMIX_REDIS_URL`` set, live sessions keep their state in Redis."""

from __future__ import annotations

from fastapi import FastAPI

from remix.config import Settings


def install_scale_out(app: FastAPI, settings: Settings) -> None:
    """Give the live hub a Redis session store, so a fan may reconnect to any API process and resume.

    Without ``REMIX_REDIS_URL`` nothing changes: the embedded default keeps sessions in process memory.
    """
    if not settings.redis_url:
        return
    from remix.live.hub import LiveConfig, LiveHub
    from remix.scale.redis_conn import redis_client
    from remix.scale.session_store import RedisSessionStore

    store = RedisSessionStore(redis_client(settings.redis_url))
    # The hub is built here rather than on the first websocket because its store is chosen here; production
    # runs the default LiveConfig (tests that tune it run the embedded mode).
    app.state.live_hub = LiveHub(settings, app.state.sessionmaker, LiveConfig(), store=store)
    app.state.live_session_store = store
