"""Paid long renders on the `remix worker` processes (production mode), through the Redis stream
``remix:render:orders``.

The API process adds one entry per paid order after the payment commits; a worker renders the order's
licensed version into ``data_dir/renders/<order public id>.wav`` (the volume every process shares) and only
then acknowledges. A worker killed mid-render leaves its entry unacknowledged; once it has been silent for
:data:`ORDER_CLAIM_IDLE_MS` another worker claims it (``XAUTOCLAIM``) and renders it again — into the same
file, written atomically, so an order never has two different renders and a reader never sees half of one.
A live worker keeps its entry claimed while it renders (a heartbeat), so a long render is not mistaken for
a dead worker. The API process serves the file once it exists.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from remix.catalog.models import Track
from remix.commerce import renders
from remix.commerce.models import Order
from remix.config import Settings
from remix.scale.redis_conn import redis_client

logger = logging.getLogger(__name__)

ORDER_STREAM = "remix:render:orders"
ORDER_GROUP = "order-render-workers"
ORDER_CLAIM_IDLE_MS = 5_000  # a silent worker's order is taken over after this; live ones beat every third of it


def enqueue_order_render(redis_url: str, order_public_id: str) -> None:
    """Ask the workers for ``order_public_id``'s licensed render (safe to ask twice: a worker skips an order
    whose file exists)."""
    redis_client(redis_url).xadd(ORDER_STREAM, {"order": order_public_id})


class OrderRenderWorker:
    """The order-render loop of one `remix worker` (a thread beside its frame loop: a long render must not
    hold fans' frames back)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], *, name: str, block_ms: int = 1000,
                 claim_idle_ms: int = ORDER_CLAIM_IDLE_MS) -> None:
        assert settings.redis_url, "order renders on workers need REMIX_REDIS_URL"
        self.settings = settings
        self.factory = factory
        self.name = name
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1.0,
                                           socket_timeout=block_ms / 1000 + 5)
        self.rendered = 0

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(ORDER_STREAM, ORDER_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            try:
                self.ensure_group()
                self.step()
            except redis.RedisError:
                logger.warning("Redis unavailable for order renders; retrying", exc_info=True)
                threading.Event().wait(0.5)

    def step(self) -> int:
        """Take one order (a dead worker's first), render it, acknowledge; returns how many it handled."""
        claimed: Any = self.client.xautoclaim(ORDER_STREAM, ORDER_GROUP, self.name, min_idle_time=self.claim_idle_ms,
                                              start_id="0-0", count=1)
        entries: list[tuple[bytes, dict[bytes, bytes]]] = list(claimed[1] or [])
        if entries:
            logger.info("claimed an order render a silent worker left")
        else:
            read: Any = self.client.xreadgroup(ORDER_GROUP, self.name, {ORDER_STREAM: ">"}, count=1,
                                               block=self.block_ms)
            for _, got in read or []:
                entries.extend(got)
        for entry_id, fields in entries:
            if fields:
                with self._keep_claimed(entry_id):
                    self._render(fields[b"order"].decode())
            self.client.xack(ORDER_STREAM, ORDER_GROUP, entry_id)
            self.client.xdel(ORDER_STREAM, entry_id)
        return len(entries)

    def _render(self, public_id: str) -> None:
        with self.factory() as session:
            order = session.scalars(select(Order).where(Order.public_id == public_id)).one_or_none()
            track = session.get(Track, order.track_id) if order is not None else None
            if order is None or track is None:
                logger.warning("order render %s: no such order or track; dropped", public_id)
                return
            if renders.render_path(self.settings, order).exists():
                return
            try:
                renders.render_licensed_version(self.settings, order, track, list(track.stems))
                self.rendered += 1
                logger.info("rendered order %s", public_id)
            except renders.RenderFailed:
                # Acknowledged all the same: rendering it again gives the same error; the download says so.
                logger.exception("order render %s failed", public_id)

    @contextmanager
    def _keep_claimed(self, entry_id: bytes) -> Iterator[None]:
        stop = threading.Event()
        ids: Any = [entry_id]  # redis-py's stub types message_ids as a 1-tuple

        def beat() -> None:
            while not stop.wait(self.claim_idle_ms / 3000):
                try:
                    self.client.xclaim(ORDER_STREAM, ORDER_GROUP, self.name, min_idle_time=0, message_ids=ids,
                                       justid=True)
                except redis.RedisError:
                    logger.debug("order render heartbeat failed", exc_info=True)

        thread = threading.Thread(target=beat, name="order-render-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(1)
