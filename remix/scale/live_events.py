"""Consent news through Redis pub/sub: a revocation committed on one API process stops the affected live
sessions on every API process at once, instead of at each process's next consent recheck.

The news is only a hint ("ask again now"): a session never trusts its content, it re-reads consent from the
database. So a message lost while Redis is away costs nothing but speed — every session still re-checks
consent once per ``consent_recheck_seconds`` — and a message sent for a transaction that changed nothing
costs one query per track being played.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from remix.scale.redis_conn import redis_client

logger = logging.getLogger(__name__)

CONSENT_CHANNEL = "remix:live:consent"
_POLL_SECONDS = 0.5  # how long the listener waits for a message before looking at its stop flag

# Redis URLs of the production-mode apps in this process: news is published to each once.
_publish_to: set[str] = set()
_publish_lock = threading.Lock()


def publish_to(redis_url: str) -> None:
    """Publish this process's consent news on ``redis_url`` (called once per production-mode app)."""
    with _publish_lock:
        _publish_to.add(redis_url)


def announce_after_commit(session: Session, kind: str, **fields: Any) -> None:
    """Publish ``kind`` once ``session``'s transaction has committed — never before: a process told too early
    would re-read consent, find it still granted and carry on until its next recheck.

    Without Redis (the embedded default) there is nobody else to tell: the process's own sessions notice at
    their next recheck.
    """
    with _publish_lock:
        urls = sorted(_publish_to)
    if not urls:
        return
    payload = json.dumps({"kind": kind, **fields})

    def publish(_session: Session) -> None:
        for url in urls:
            try:
                redis_client(url).publish(CONSENT_CHANNEL, payload)
            except redis.RedisError as exc:
                # The transaction has committed: the answer to the request stands, and every session still
                # notices at its next recheck. A failed hint is worth a warning, not a failed request.
                logger.warning("consent news not published (%s); sessions notice at their next recheck", exc)

    event.listen(session, "after_commit", publish, once=True)


class ConsentNewsListener:
    """Listens on :data:`CONSENT_CHANNEL` in a thread while the process has live sessions, and hands each
    message to the event loop. After a reconnect it reports news too: what was published meanwhile is lost."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._stop: threading.Event | None = None
        self.subscribed = threading.Event()  # set once the subscription is confirmed (tests wait on it)

    def start(self, loop: asyncio.AbstractEventLoop, on_news: Callable[[], None]) -> None:
        self.stop()
        stop = threading.Event()
        self._stop = stop
        self.subscribed.clear()
        threading.Thread(target=self._listen, args=(loop, on_news, stop), name="remix-consent-news",
                         daemon=True).start()

    def stop(self) -> None:
        """Ask the thread to end (within half a second); never waits for it, so the event loop never blocks."""
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def _listen(self, loop: asyncio.AbstractEventLoop, on_news: Callable[[], None], stop: threading.Event) -> None:
        # Its own connection: a subscribed connection can do nothing else, and it waits longer than the shared
        # client's socket timeout allows.
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1.0, socket_timeout=_POLL_SECONDS + 5)
        first = True
        while not stop.is_set():
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(CONSENT_CHANNEL)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=_POLL_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.subscribed.set()
                        if first:
                            first = False
                            continue
                    elif message["type"] != "message":
                        continue
                    # One transaction may send several messages (a revoked grant, then each model it withdrew):
                    # whatever has already arrived is one piece of news, so sessions ask the database once.
                    while pubsub.get_message(timeout=0) is not None:
                        pass
                    if loop.is_closed():
                        return
                    loop.call_soon_threadsafe(on_news)
            except (redis.RedisError, OSError) as exc:
                logger.warning("consent news: %s; subscribing again", exc)
                stop.wait(0.2)
            except RuntimeError:  # the event loop closed between the check and the call
                return
            finally:
                pubsub.close()
        client.close()
