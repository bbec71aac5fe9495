"""`remix worker`: renders live frames from the Redis stream, batching entries of every API process, and paid
long renders from another stream (in a thread of their own, see remix.scale.order_renders).

Each loop: take over entries a dead worker left unacknowledged (``XAUTOCLAIM``), read new ones
(``XREADGROUP``), group them by visual model and steps, render each group in one pipeline call, push every
entry's frames to its reply list, then acknowledge. Acknowledging after replying means a worker killed at any
point loses nothing: its entries are claimed and rendered again (a frame rendered twice is harmless, the API
takes the first reply and the spare expires).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import redis
from sqlalchemy import select

from remix.config import Settings
from remix.db import close_engine, make_engine, make_sessionmaker
from remix.live.hub import LiveConfig
from remix.live.visual import FrameRequest, render_frames, warm_up_buckets
from remix.scale.frames import (
    CLAIM_IDLE_MS,
    FRAME_STREAM,
    WORKER_GROUP,
    decode_requests,
    encode_results,
)
from remix.scale.order_renders import ORDER_STREAM, OrderRenderWorker

logger = logging.getLogger(__name__)

REPLY_TTL_S = 30


@dataclass
class _Entry:
    entry_id: bytes
    job: str
    model_id: int
    reply: str
    requests: list[FrameRequest] = field(default_factory=list)


class FrameWorker:
    def __init__(self, settings: Settings, *, name: str | None = None, max_batch: int = 32,
                 block_ms: int = 200) -> None:
        assert settings.redis_url, "remix worker needs REMIX_REDIS_URL"
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.max_batch = max_batch
        self.block_ms = block_ms
        self.client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1.0,
                                           socket_timeout=block_ms / 1000 + 5)
        self.engine = make_engine(settings.database_url)
        self.factory = make_sessionmaker(self.engine)
        self.stopping = False
        self.rendered = 0

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(FRAME_STREAM, WORKER_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def warm(self, limit: int = 8) -> list[int]:
        """Load the newest live visual models before taking work, so a fresh worker's first frames are not
        seconds late (and its first batches are not claimed away while it loads). With a compiled UNet
        (``REMIX_VISUAL_COMPILE``), every batch bucket up to ``max_batch`` is compiled here too, before the
        worker reads its first batch, instead of a minute per bucket while fans wait."""
        from remix.visuals.models import VisualModel, VisualModelStatus

        with self.factory() as session:
            ids = list(session.scalars(select(VisualModel.id).where(VisualModel.status == VisualModelStatus.live)
                                       .order_by(VisualModel.id.desc()).limit(limit)))
        loaded = []
        for model_id in ids:
            try:
                pipeline = self._pipeline(model_id)
                started = time.perf_counter()
                live = LiveConfig()  # the frame steps and size API processes ask for
                sizes = warm_up_buckets(pipeline, max_batch=self.max_batch, steps=live.frame_steps,
                                        output_size=live.frame_size)
                if sizes:
                    logger.info("visual model %s: batch buckets %s compiled in %.1f s", model_id,
                                ", ".join(map(str, sizes)), time.perf_counter() - started)
                loaded.append(model_id)
            except Exception:  # a broken model must not keep the worker from serving the others
                logger.exception("could not preload visual model %s", model_id)
        return loaded

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        import torch  # noqa: F401  (imported before taking work: the first import takes seconds)

        loaded = self.warm()
        logger.info("render worker %s consuming %s and %s (models loaded: %s)", self.name, FRAME_STREAM,
                    ORDER_STREAM, loaded)
        # Paid long renders in their own thread: one takes seconds, and fans' frames must not wait behind it.
        orders = OrderRenderWorker(self.settings, self.factory, name=self.name)
        order_thread = threading.Thread(target=orders.run, args=(lambda: self.stopping,), name="order-renders",
                                        daemon=True)
        order_thread.start()
        while not self.stopping:
            try:
                self.ensure_group()
                self.step()
            except redis.RedisError:
                logger.warning("Redis unavailable; retrying", exc_info=True)
                time.sleep(0.5)
        order_thread.join()  # a render under way finishes (and is acknowledged) before the worker exits
        close_engine(self.engine)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def step(self) -> int:
        """One read-render-reply round; returns how many entries it handled."""
        raw: list[tuple[bytes, dict[bytes, bytes]]] = []
        claimed = self.client.xautoclaim(FRAME_STREAM, WORKER_GROUP, self.name, min_idle_time=CLAIM_IDLE_MS,
                                         start_id="0-0", count=self.max_batch)
        raw.extend(claimed[1] or [])
        if claimed[1]:
            logger.info("claimed %d frame batch(es) a silent worker left", len(claimed[1]))
        if len(raw) < self.max_batch:
            read: Any = self.client.xreadgroup(WORKER_GROUP, self.name, {FRAME_STREAM: ">"},
                                               count=self.max_batch - len(raw), block=None if raw else self.block_ms)
            for _, entries in read or []:
                raw.extend(entries)
        if raw:
            logger.debug("took %d frame batch(es)", len(raw))
        ids = [entry_id for entry_id, _ in raw]
        with self._keep_claimed(ids):
            entries = [self._parse(entry_id, fields) for entry_id, fields in raw if fields]
            groups: dict[tuple[int, int], list[_Entry]] = defaultdict(list)
            for entry in entries:
                if entry.requests:
                    groups[(entry.model_id, entry.requests[0].steps)].append(entry)
            for (model_id, _), group in groups.items():
                self._render_group(model_id, group)
        if raw:
            self.client.xack(FRAME_STREAM, WORKER_GROUP, *[entry_id for entry_id, _ in raw])
            self.client.xdel(FRAME_STREAM, *[entry_id for entry_id, _ in raw])
        return len(raw)

    @contextmanager
    def _keep_claimed(self, ids: list[bytes]) -> Iterator[None]:
        """While rendering (a first model load takes seconds), keep resetting our entries' idle time, so only a
        worker that stopped — not one that is slow — has its entries claimed by another."""
        stop = threading.Event()
        claimed: Any = list(ids)  # redis-py's stub types message_ids as a 1-tuple

        def beat() -> None:
            while not stop.wait(CLAIM_IDLE_MS / 3000):
                try:
                    self.client.xclaim(FRAME_STREAM, WORKER_GROUP, self.name, min_idle_time=0, message_ids=claimed,
                                       justid=True)
                except redis.RedisError:
                    logger.debug("heartbeat failed", exc_info=True)

        thread = threading.Thread(target=beat, name="render-heartbeat", daemon=True)
        if ids:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if ids:
                thread.join(1)

    def _parse(self, entry_id: bytes, fields: dict[bytes, bytes]) -> _Entry:
        return _Entry(entry_id, fields[b"job"].decode(), int(fields[b"model"]), fields[b"reply"].decode(),
                      decode_requests(fields[b"requests"]))

    def _render_group(self, model_id: int, group: list[_Entry]) -> None:
        requests = [r for entry in group for r in entry.requests]
        started = time.perf_counter()
        try:
            pipeline = self._pipeline(model_id)
            results = render_frames(pipeline, requests)
        except Exception as exc:  # the API side turns this into a notice for the fans of this batch
            logger.exception("frame batch for model %s failed", model_id)
            for entry in group:
                self._reply(entry.reply, f"error:{type(exc).__name__}: {exc}".encode())
            return
        self.rendered += len(results)
        offset = 0
        for entry in group:
            count = len(entry.requests)
            self._reply(entry.reply, encode_results(results[offset:offset + count]))
            offset += count
        logger.debug("rendered %d frames for %d batch(es) of model %s in %.0f ms", len(results), len(group), model_id,
                     (time.perf_counter() - started) * 1000)

    def _reply(self, key: str, payload: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(key, payload)
        pipe.expire(key, REPLY_TTL_S)
        pipe.execute()

    def _pipeline(self, model_id: int) -> Any:
        from remix.visuals import service as visuals
        from remix.visuals.models import VisualModel, VisualModelStatus

        with self.factory() as session:
            model = session.get(VisualModel, model_id)
            if model is None or model.status != VisualModelStatus.live:
                raise LookupError(f"visual model {model_id} is not live")
            return visuals.pipeline_for(self.settings, model)
