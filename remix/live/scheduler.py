"""Batches the pending frames of every live session that uses the same model into one render call.

Each session has at most one frame in flight and at most one waiting: a newer request replaces the
waiting one (the older is dropped as stale, never queued), so a fan who types fast sees the newest
prompt, and memory stays bounded however slow rendering gets. Delivery is a callback per session;
a slow client is the callback's problem (it drops frames it cannot send), never the scheduler's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from remix.live.loop_task import LoopTask

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Res = TypeVar("Res")

Deliver = Callable[[Res], Awaitable[None]]


@dataclass
class _Slot(Generic[Req, Res]):
    deliver: Callable[[Any], Awaitable[None]]
    on_failed: Callable[[], None] | None = None
    model_key: Hashable | None = None
    waiting: Req | None = None
    in_flight: bool = False
    dropped: int = 0
    rendered: int = 0


@dataclass
class SchedulerStats:
    batches: int = 0
    frames: int = 0
    dropped: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class RenderScheduler(Generic[Req, Res]):
    """Gathers waiting requests per model and renders up to ``max_batch`` of them in one call.

    ``render_batch(model_key, requests)`` runs in a worker thread and must return one result per
    request, in order. Rendering a request alone or in a batch must give the same result (the
    pipelines seed each item with its own generator), so batching never changes what a fan sees.
    """

    def __init__(self, render_batch: Callable[[Hashable, Sequence[Req]], Sequence[Res]], *, max_batch: int = 8,
                 max_wait_ms: float = 2.0, executor: Executor | None = None) -> None:
        self._render_batch = render_batch
        self._executor = executor  # None: the event loop's default thread pool
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._slots: dict[Hashable, _Slot[Req, Res]] = {}
        self._wakeup = asyncio.Event()
        self._background = LoopTask("render-scheduler", self._run)
        self.stats = SchedulerStats()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    def register(self, session_id: Hashable, deliver: Deliver[Res],
                 on_failed: Callable[[], None] | None = None) -> None:
        """``on_failed`` is told when the session's frame could not be rendered, so it can ask again
        (otherwise a session whose next frame waits on a delivery would never render again)."""
        self._slots[session_id] = _Slot(deliver=deliver, on_failed=on_failed)

    def unregister(self, session_id: Hashable) -> None:
        self._slots.pop(session_id, None)

    def submit(self, session_id: Hashable, model_key: Hashable, request: Req) -> bool:
        """Queue ``request`` as the session's next frame. Returns False if it replaced a stale one."""
        slot = self._slots[session_id]
        replaced = slot.waiting is not None
        if replaced:
            slot.dropped += 1
            self.stats.dropped += 1
        slot.waiting = request
        slot.model_key = model_key
        self._wakeup.set()
        return not replaced

    def busy(self, session_id: Hashable) -> bool:
        slot = self._slots.get(session_id)
        return slot is not None and (slot.in_flight or slot.waiting is not None)

    def _take_batch(self) -> tuple[Hashable, list[tuple[Hashable, Req]]] | None:
        ready = [(sid, s) for sid, s in self._slots.items() if s.waiting is not None and not s.in_flight]
        if not ready:
            return None
        model_key = ready[0][1].model_key
        batch: list[tuple[Hashable, Req]] = []
        for sid, slot in ready:
            if slot.model_key == model_key and len(batch) < self._max_batch:
                assert slot.waiting is not None
                batch.append((sid, slot.waiting))
                slot.waiting = None
                slot.in_flight = True
        return model_key, batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # A short gather window lets frames submitted at the same moment share one call.
            await asyncio.sleep(self._max_wait)
            while (taken := self._take_batch()) is not None:
                model_key, batch = taken
                started = time.perf_counter()
                try:
                    results = await loop.run_in_executor(
                        self._executor, self._render_batch, model_key, [req for _, req in batch]
                    )
                except Exception:
                    logger.exception("render batch failed for model %s", model_key)
                    results = None
                self.stats.batches += 1
                self.stats.frames += len(batch)
                self.stats.batch_sizes.append(len(batch))
                logger.debug("rendered %d frames in %.1f ms", len(batch), (time.perf_counter() - started) * 1000)
                for index, (sid, _) in enumerate(batch):
                    slot = self._slots.get(sid)
                    if slot is None:
                        continue
                    slot.in_flight = False
                    if results is not None:
                        slot.rendered += 1
                        await _deliver_safely(slot.deliver, results[index])
                    elif slot.on_failed is not None:
                        slot.on_failed()
                    if slot.waiting is not None:
                        self._wakeup.set()


async def _deliver_safely(deliver: Callable[[Any], Awaitable[None]], result: Any) -> None:
    try:
        await deliver(result)
    except Exception:  # a client that went away must not stop other sessions' frames
        logger.debug("frame delivery failed", exc_info=True)
