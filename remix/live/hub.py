"""The per-process hub of live sessions: the shared frame scheduler, audio mixer, caches and session store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from remix.config import Settings
from remix.live.mixer import AudioRenderer
from remix.live.scheduler import RenderScheduler
from remix.live.service import TTLCache
from remix.live.signal import Signal
from remix.live.store import InMemorySessionStore, SessionStore
from remix.live.visual import FrameRequest, FrameResult

# Niceness of the thread that renders frames (and of the torch worker threads it starts). Frames are best
# effort and control messages are not: torch used both cores for a batch at nice 0, and the event loop in the
# same process waited for a CPU (20 fans with visuals: ack p99 ~350 ms). Same niceness as the audio mixers.
RENDER_NICENESS = 10
CHECK_DRAIN_SECONDS = 5.0  # how long the last session to close waits for a consent check still running

_render_pool: ThreadPoolExecutor | None = None
_render_pool_lock = threading.Lock()


def _lower_render_priority() -> None:
    # On Linux a thread is scheduled on its own, so only this thread (and the OpenMP workers torch starts
    # from it, which inherit its niceness) is lowered; the event loop's thread keeps its priority.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RENDER_NICENESS)


def render_executor() -> ThreadPoolExecutor:
    """The process's one low-priority frame-render thread (the scheduler renders one batch at a time)."""
    global _render_pool
    with _render_pool_lock:
        if _render_pool is None:
            _render_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-render",
                                              initializer=_lower_render_priority)
        return _render_pool


@dataclass(frozen=True)
class LiveConfig:
    """Knobs of the live service. Tests and benchmarks set ``app.state.live_config`` before the first session."""

    frame_steps: int = 4
    frame_size: int = 256
    max_fps: float = 8.0
    max_batch: int = 16
    gather_ms: float = 5.0
    consent_recheck_seconds: float = 1.0
    # Mixer processes (low CPU priority, see remix.live.mixer); 0 mixes in one thread of the server process.
    audio_workers: int = max(1, (os.cpu_count() or 2) - 1)
    audio_batch: int = 48  # chunks per round trip to a mixer: bigger batches when the mixers fall behind
    prompts_per_second: float = 2.0
    prompt_burst: float = 4.0
    messages_per_second: float = 50.0
    message_burst: float = 100.0
    max_replies_waiting: int = 256
    max_audio_waiting: int = 4


class ConsentNewsSource(Protocol):
    """Tells the hub, on its event loop, that consent or a model changed somewhere (see remix.scale.live_events)."""

    def start(self, loop: asyncio.AbstractEventLoop, on_news: Callable[[], None]) -> None: ...

    def stop(self) -> None: ...


class LiveHub:
    def __init__(self, settings: Settings, factory: sessionmaker[Session], config: LiveConfig,
                 store: SessionStore | None = None) -> None:
        self.settings = settings
        self.factory = factory
        self.config = config
        self.store: SessionStore = store or InMemorySessionStore()
        self.mixer = AudioRenderer(config.audio_workers, max_batch=config.audio_batch)
        self.pipelines: dict[int, Any] = {}
        self.scheduler: RenderScheduler[FrameRequest, FrameResult] = RenderScheduler(
            self._render_batch, max_batch=config.max_batch, max_wait_ms=config.gather_ms, executor=render_executor())
        # Consent and model checks shared by all sessions, re-asked at most once per recheck interval.
        self.consent = TTLCache(config.consent_recheck_seconds)
        self.models = TTLCache(config.consent_recheck_seconds)
        self.rules = TTLCache(max(config.consent_recheck_seconds, 2.0))
        self._sessions = 0
        self._checks: dict[Hashable, asyncio.Future[None]] = {}
        # Every check thread still running, also those consent news made _checks forget (see session_ended).
        self._running_checks: set[asyncio.Future[None]] = set()
        self._lock = asyncio.Lock()
        self._pipeline_lock = threading.Lock()
        # Production mode sets a source of consent news (Redis pub/sub), listened to while sessions are open;
        # news wakes every session's consent watch at once instead of at its next recheck.
        self.consent_news_source: ConsentNewsSource | None = None
        self._consent_news = Signal()

    def _render_batch(self, model_key: Hashable, requests: Sequence[FrameRequest]) -> Sequence[FrameResult]:
        from remix.live.visual import render_frames

        pipeline = self.pipelines[int(model_key)]  # type: ignore[call-overload]
        return render_frames(pipeline, requests)

    def remember_pipeline(self, model_id: int, pipeline: Any) -> None:
        with self._pipeline_lock:
            self.pipelines[model_id] = pipeline

    async def session_started(self) -> None:
        async with self._lock:
            if self._sessions == 0:
                self.scheduler.start()
                self.mixer.start()
                if self.consent_news_source is not None:
                    self.consent_news_source.start(asyncio.get_running_loop(), self.consent_changed)
            self._sessions += 1

    async def session_ended(self) -> None:
        async with self._lock:
            self._sessions -= 1
            if self._sessions == 0:
                # No session left: stop the scheduler task so nothing outlives the event loop (tests, shutdown),
                # then let a consent check still running in its thread finish (it holds a database connection).
                # The stops come first, so a cancelled close still stops them.
                await self.scheduler.stop()
                await self.mixer.stop()
                if self.consent_news_source is not None:
                    self.consent_news_source.stop()
                if self._running_checks:
                    await asyncio.wait(list(self._running_checks), timeout=CHECK_DRAIN_SECONDS)

    async def shared_check(self, key: Hashable, check: Callable[[], None]) -> None:
        """Run ``check`` in a thread, once for every session asking about ``key`` at the same time.

        Hundreds of sessions on one track find their shared consent answer expired in the same second;
        one database query answers them all instead of one each (and a thread hop each).
        """
        task = self._checks.get(key)
        if task is None or task.done():
            task = asyncio.ensure_future(asyncio.to_thread(check))
            self._checks[key] = task
            self._running_checks.add(task)
            task.add_done_callback(self._running_checks.discard)
            task.add_done_callback(lambda done: self._checks.pop(key, None) if self._checks.get(key) is done else None)
        await asyncio.shield(task)

    def consent_changed(self) -> None:
        """Consent or a visual model changed somewhere (on the event loop): forget every cached answer and wake
        every session's consent watch, so each asks the database again now."""
        config = self.config
        self.consent = TTLCache(config.consent_recheck_seconds)
        self.models = TTLCache(config.consent_recheck_seconds)
        self._checks.clear()  # a check already running may have read the database before the change
        news, self._consent_news = self._consent_news, Signal()
        news.set()

    async def consent_news(self, timeout: float) -> None:
        """Wait ``timeout`` seconds, or less if consent news arrives meanwhile."""
        await self._consent_news.wait(timeout)

    @property
    def session_count(self) -> int:
        return self._sessions


def hub_for(app: FastAPI) -> LiveHub:
    hub: LiveHub | None = getattr(app.state, "live_hub", None)
    if hub is None:
        config = getattr(app.state, "live_config", None) or LiveConfig()
        hub = LiveHub(app.state.settings, app.state.sessionmaker, config)
        app.state.live_hub = hub
    return hub
