"""Live session state in Redis, so a fan's websocket can reconnect to any API process and resume.

A fan's mix, prompt and playhead are saved on every change (see :class:`remix.live.store.SessionStore`).
Writing to Redis on the event loop would stall every fan whenever Redis is slow or restarting, so saves are
queued and written by one background thread: newer state for a session replaces unwritten older state, and
while Redis is away the newest state of every session waits in memory and is written once it is back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis

from remix.live.store import SavedSession

logger = logging.getLogger(__name__)

KEY_PREFIX = "remix:live:session:"


class RedisSessionStore:
    """Saved sessions as JSON under ``remix:live:session:<id>`` with a TTL refreshed on every save."""

    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 3600, retry_seconds: float = 0.2) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.retry_seconds = retry_seconds
        self._pending: dict[str, str | None] = {}  # session id → JSON to write, or None to delete
        self._inflight: dict[str, str | None] = {}  # being written now
        self._cond = threading.Condition()
        self._closed = False
        self.failures = 0  # writes that Redis refused and that were retried (metrics, tests)
        self._writer = threading.Thread(target=self._write_loop, name="redis-session-store", daemon=True)
        self._writer.start()

    def load(self, session_id: str) -> SavedSession | None:
        with self._cond:
            for unwritten in (self._pending, self._inflight):  # saved here, not in Redis yet: the newest
                if session_id in unwritten:
                    data = unwritten[session_id]
                    return None if data is None else SavedSession.from_json(json.loads(data))
        try:
            raw = self.client.get(KEY_PREFIX + session_id)
        except redis.RedisError:
            logger.warning("session store unavailable; session %s cannot be resumed now", session_id, exc_info=True)
            return None
        if raw is None:
            return None
        data_in: dict[str, Any] = json.loads(raw)
        return SavedSession.from_json(data_in)

    def save(self, state: SavedSession) -> None:
        self._queue(state.session_id, json.dumps(state.to_json(), separators=(",", ":")))

    def delete(self, session_id: str) -> None:
        self._queue(session_id, None)

    def _queue(self, session_id: str, data: str | None) -> None:
        with self._cond:
            self._pending[session_id] = data
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued save is written (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (waiting at most ``timeout``), then stop the writer."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    _writing = False

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch, self._pending = self._pending, {}
                self._inflight = batch
                self._writing = True
            try:
                pipe = self.client.pipeline(transaction=False)
                for session_id, data in batch.items():
                    if data is None:
                        pipe.delete(KEY_PREFIX + session_id)
                    else:
                        pipe.set(KEY_PREFIX + session_id, data, ex=self.ttl_seconds)
                pipe.execute()
            except redis.RedisError:
                self.failures += 1
                logger.warning("could not write %d live session(s) to Redis; retrying", len(batch), exc_info=True)
                with self._cond:
                    for session_id, data in batch.items():
                        self._pending.setdefault(session_id, data)  # a newer save made meanwhile wins
                time.sleep(self.retry_seconds)
            finally:
                with self._cond:
                    self._writing = False
                    self._inflight = {}
                    self._cond.notify_all()
