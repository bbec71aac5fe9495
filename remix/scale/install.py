"""Production mode wiring: with ``REMIX_REDIS_URL`` set, live session state lives in Redis and live frames
are rendered by `remix worker` processes fed through a Redis stream."""

from __future__ import annotations

from fastapi import FastAPI

from remix.config import Settings


def install_scale_out(app: FastAPI, settings: Settings) -> None:
    """Give the live hub a Redis session store, so a fan may reconnect to any API process and resume, send its
    frame batches to the render workers, and hear of consent revocations committed on any API process.

    Without ``REMIX_REDIS_URL`` nothing changes: the embedded default keeps sessions in process memory.
    """
    if not settings.redis_url:
        return
    import redis

    from remix.live.hub import LiveConfig
    from remix.scale.frames import REPLY_TIMEOUT_S, RedisFrameRenderer, WorkerRenderedHub
    from remix.scale.live_events import ConsentNewsListener, publish_to
    from remix.scale.redis_conn import redis_client
    from remix.scale.session_store import RedisSessionStore

    store = RedisSessionStore(redis_client(settings.redis_url))
    # The hub is built here rather than on the first websocket because its store is chosen here; production
    # runs the default LiveConfig (tests that tune it run the embedded mode).
    # Its own connection: waiting for a worker's reply (BLPOP) outlasts the shared client's socket timeout.
    waiting = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=REPLY_TIMEOUT_S + 5)
    renderer = RedisFrameRenderer(waiting, metrics=getattr(app.state, "metrics", None))
    app.state.live_hub = WorkerRenderedHub(settings, app.state.sessionmaker, LiveConfig(), store=store,
                                           renderer=renderer)
    # A revocation committed on any API process reaches the live sessions of every one at once (pub/sub).
    app.state.live_hub.consent_news_source = ConsentNewsListener(settings.redis_url)
    publish_to(settings.redis_url)
    app.state.live_session_store = store
