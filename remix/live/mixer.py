"""Live audio rendering for every session of the process: one dispatcher, a pool of low-priority mixer processes.

Why processes, and why low priority: mixing a chunk is mostly Python and small-array numpy that holds the
GIL. In a worker *thread* it took the GIL from the event loop every few milliseconds, so at a few hundred
fans the acks queued behind rendering for seconds. In worker processes the event loop keeps its GIL, and
the workers run at a lower CPU priority (``nice``), so the operating system gives the loop (control
messages) the larger share of a contended core. When that is not enough for every fan in real
time, audio degrades, never control: a chunk that waited in the queue past its playback time is *shed*
(counted, reported to the fan in ``ping`` acks), never queued up.

The dispatcher (:class:`AudioRenderer`) ticks every few milliseconds: it asks each playing session for its
next chunk when the playhead is within the lead of it (at most one chunk in flight per session), merges
identical chunks (same stems, mix and window: fans who play the same mix at the same spot share one
render), sheds chunks that can no longer arrive in time, and hands the rest to the pool in batches (one
inter-process round trip for many chunks). It also measures its own lateness: when the event loop runs
late (it is busy answering control messages and sending media), it sends fewer chunks to render until the
loop is on time again, so the media a loop has to send never grows past what it can carry.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from remix.errors import InvalidMedia, RemixError
from remix.live.audio import AudioChunk, render_chunk, spec_for_window
from remix.live.loop_task import LoopTask
from remix.live.signal import Signal

logger = logging.getLogger(__name__)

# The mixer processes' niceness: where they compete with the event loop (nice 0) for a core, the loop gets
# about nine times their share (scheduler weights 1024 and 110). Audio is best effort and acks are not: at 5
# (three times) the 500-fan benchmark's ack p99 was ~90 ms at load average 5; at 10 it was 24-62 ms at
# load 4, and the mixers still got a third of a core (3.9-4.9 chunks/s per fan of 6.67). Much nicer
# mixers risk starving outright on a machine shared with other work.
WORKER_NICENESS = 10
TICK_SECONDS = 0.01
# A chunk still waiting for a mixer this long after its playback should have started is shed.
SHED_AFTER_SECONDS = 0.05
# Event-loop lateness (per tick) above which fewer chunks are sent to render.
LOOP_LAG_TARGET_SECONDS = 0.008


@dataclass(frozen=True)
class StemFile:
    name: str
    sha256: str
    path: str


@dataclass(frozen=True)
class ChunkJob:
    """Everything a mixer process needs to render one chunk (picklable, and hashable for sharing renders)."""

    stems: tuple[StemFile, ...]
    sample_rate: int
    mix_json: str  # the live mix as canonical JSON
    start_seconds: float
    length_seconds: float


def _worker_init(server_pid: int) -> None:
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    # A mixer must not outlive its server (killed, crashed, or a test run that ended without shutting
    # the pool down): once the server is gone, it exits. Each holds decoded stems (~200 MB).

    def watch() -> None:
        while os.getppid() == server_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="live-mixer-watchdog", daemon=True).start()


def render_jobs(jobs: Sequence[ChunkJob]) -> list[AudioChunk | RemixError]:
    """Render a batch of chunks (in a mixer process); a stem that no longer decodes fails only its chunks."""
    import json

    from remix.audio.decode import StemDecodeError, process_cache

    cache = process_cache()
    results: list[AudioChunk | RemixError] = []
    for job in jobs:
        try:
            stems = {}
            for stem in job.stems:
                try:
                    stems[stem.name] = cache.get(stem.sha256, Path(stem.path), job.sample_rate)
                except StemDecodeError as exc:
                    raise InvalidMedia(f"stems.{stem.name}: the stored file of stem '{stem.name}' cannot be "
                                       f"decoded ({exc}); its artist needs to upload it again") from exc
            spec = spec_for_window(json.loads(job.mix_json), job.start_seconds, job.length_seconds)
            results.append(render_chunk(stems, spec, job.sample_rate))
        except RemixError as exc:
            results.append(exc)
    return results


def _warm() -> int:
    return os.getpid()


def decode_ahead(stems: tuple[StemFile, ...], sample_rate: int) -> None:
    """Decode a track's stems into the mixer's cache before its first chunk is due (in a mixer process)."""
    from remix.audio.decode import StemDecodeError, process_cache

    for stem in stems:
        with contextlib.suppress(StemDecodeError):  # reported with the first chunk that needs it
            process_cache().get(stem.sha256, Path(stem.path), sample_rate)


_pools: dict[int, Executor] = {}
_pools_lock = threading.Lock()


def mixer_pool(workers: int) -> Executor:
    """The process's pool of ``workers`` mixer processes (0: one thread, for platforms without processes).

    Shared by every hub of the process (tests build many apps); a server's app shuts it down with
    :func:`shutdown_mixer_pools` when it stops, a test run when the process exits.
    """
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            if workers <= 0:
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-mixer")
            else:
                # spawn: the mixers start as fresh interpreters, not forks of a process holding threads and
                # torch, and are the server's own children (a forkserver outlived test runs, mixers and all).
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_worker_init, initargs=(os.getpid(),))
                for _ in range(workers):  # start them now, not when the first fan presses play
                    pool.submit(_warm)
            _pools[workers] = pool
        return pool


def shutdown_mixer_pools(*, wait: bool = True) -> None:
    """Stop the process's mixer pools: pending chunks are cancelled, running ones finish.

    With ``wait`` the mixers are joined and each pool's queues are closed and released here, which unlinks their
    named semaphores. A server must do this before it exits: uvicorn ends a graceful shutdown by raising the
    SIGTERM it caught again with the default action, which kills the process without running ``atexit`` hooks,
    and the resource tracker then warned about the five semaphores of the pool's two queues. Blocks for as long
    as the mixers take to exit (about a second): call it from a thread, not the event loop.
    """
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=wait, cancel_futures=True)


@atexit.register
def _shutdown_pools_at_exit() -> None:
    shutdown_mixer_pools(wait=False)  # an interpreter that exits normally (a test run) releases the rest itself


class ChunkClient(Protocol):
    """A session as the dispatcher sees it."""

    # Loop time before which ``next_chunk`` would return None anyway (its next chunk is not due yet), so the
    # dispatcher need not ask: polling 500 sessions 100 times a second cost the event loop a tenth of a core.
    # Play, seek, a tempo change and a delivered or shed chunk set it back to 0.
    wake_at: float

    def next_chunk(self, now: float) -> tuple[ChunkJob, int, float] | None:
        """``(job, sequence, deadline)`` if a chunk is due now (deadline: loop time its playback starts)."""

    def chunk_ready(self, sequence: int, result: AudioChunk | RemixError) -> None: ...

    def chunk_shed(self, sequence: int) -> None: ...


@dataclass
class _Pending:
    job: ChunkJob
    deadline: float
    waiters: list[tuple[ChunkClient, int]] = field(default_factory=list)


@dataclass
class MixerStats:
    rendered: int = 0  # distinct renders
    delivered: int = 0  # chunks handed to sessions (a shared render counts once per session)
    shared: int = 0  # chunks that rode along on another session's identical render
    shed: int = 0  # chunks dropped before rendering: they could not have arrived in time
    batches: int = 0
    throttled_ticks: int = 0  # ticks on which the loop ran late and fewer chunks were sent to render
    max_lag_ms: float = 0.0


class AudioRenderer:
    """The per-hub dispatcher of live audio chunks (see the module docstring)."""

    def __init__(self, workers: int, *, max_batch: int = 16, tick: float = TICK_SECONDS) -> None:
        self.workers = workers
        self.max_batch = max_batch
        self.tick = tick
        self._pool: Executor | None = None
        self._clients: dict[str, ChunkClient] = {}
        self._queue: dict[ChunkJob, _Pending] = {}  # insertion order: oldest first
        self._in_flight = 0
        self._max_in_flight = max(1, workers) * 2  # one rendering and one waiting per mixer: no idle gaps
        self._budget = float(self._max_in_flight)  # batches allowed in flight now (lowered when the loop is late)
        self._wake = Signal()
        self._background = LoopTask("live-mixer", self._run)
        self._logged = 0.0
        self._decoded: set[tuple[tuple[StemFile, ...], int]] = set()
        self._cursor = 0  # where the next step starts asking sessions (round robin)
        self.stats = MixerStats()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    def register(self, session_id: str, client: ChunkClient) -> None:
        self._clients[session_id] = client

    def decode_ahead(self, stems: tuple[StemFile, ...], sample_rate: int) -> None:
        """Have the mixers decode a track's stems now (once per track), not when the fan presses play."""
        key = (stems, sample_rate)
        if key in self._decoded:
            return
        self._decoded.add(key)
        asyncio.get_running_loop().run_in_executor(None, self._decode_ahead, stems, sample_rate)

    def _decode_ahead(self, stems: tuple[StemFile, ...], sample_rate: int) -> None:
        pool = mixer_pool(self.workers)
        for _ in range(max(1, self.workers)):  # each mixer has its own cache
            pool.submit(decode_ahead, stems, sample_rate)

    def unregister(self, session_id: str) -> None:
        self._clients.pop(session_id, None)

    def wake(self) -> None:
        """Look for due chunks now rather than at the next tick (play, seek, mix change, a chunk delivered)."""
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if self._pool is None:
            # Starting processes blocks for a while (a second on a busy machine): not on the event loop.
            # Until they run, no session is asked for a chunk, so none is numbered and then shed.
            self._pool = await asyncio.to_thread(mixer_pool, self.workers)
        expected = loop.time() + self.tick
        while True:
            await self._wake.wait(max(0.0, expected - loop.time()))
            self._wake.clear()
            now = loop.time()
            lag = max(0.0, now - expected) if now >= expected else 0.0
            if now >= expected:
                self._adapt(lag)
                expected = now + self.tick
            if now - self._logged > 5.0 and logger.isEnabledFor(logging.DEBUG):
                self._logged = now
                logger.debug("live mixer: %d sessions, %s", len(self._clients), self.snapshot())
            try:
                self._step(now)
            except Exception:  # one broken session must not stop everyone's audio
                logger.exception("live mixer step failed")

    def _adapt(self, lag: float) -> None:
        """Additive increase, multiplicative decrease of the batches in flight, steered by the loop's lateness."""
        self.stats.max_lag_ms = max(self.stats.max_lag_ms, lag * 1000)
        if lag > LOOP_LAG_TARGET_SECONDS:
            self.stats.throttled_ticks += 1
            self._budget = max(0.25, self._budget * 0.7)
        else:
            self._budget = min(float(self._max_in_flight), self._budget + 0.05)

    def _step(self, now: float) -> None:
        # Ask sessions for only as many chunks as can go to a mixer now. Asking every due session while the
        # loop was throttled filled the queue with chunks that were shed a few ticks later and asked for
        # again: under 500 fans that churn was a third of the event loop's time, taken from the acks.
        # Sessions not asked stay behind their playhead and skip ahead when asked (counted as skipped
        # seconds); a rotating start keeps that fair.
        room = max(0, max(1, math.floor(self._budget)) - self._in_flight) * self.max_batch - len(self._queue)
        clients = list(self._clients.values())
        start = self._cursor % len(clients) if clients else 0
        for index in range(start, start + len(clients)):
            if room <= 0:
                self._cursor = index
                break
            client = clients[index % len(clients)]
            if client.wake_at > now:
                continue
            due = client.next_chunk(now)
            if due is None:
                continue
            room -= 1
            job, sequence, deadline = due
            pending = self._queue.get(job)
            if pending is None:
                self._queue[job] = pending = _Pending(job, deadline)
            else:
                self.stats.shared += 1
                pending.deadline = min(pending.deadline, deadline)
            pending.waiters.append((client, sequence))
        # Shed what can no longer play in time: sending it late would only delay the chunks after it.
        for job in [j for j, p in self._queue.items() if now - p.deadline > SHED_AFTER_SECONDS]:
            for client, sequence in self._queue.pop(job).waiters:
                self.stats.shed += 1
                client.chunk_shed(sequence)
        while self._queue and self._in_flight < max(1, math.floor(self._budget)):
            # Most urgent first (the queue is nearly in deadline order already; a batch is small).
            batch = sorted(self._queue.values(), key=lambda p: p.deadline)[:self.max_batch]
            for pending in batch:
                del self._queue[pending.job]
            self._submit(batch)

    def _submit(self, batch: list[_Pending]) -> None:
        assert self._pool is not None
        self._in_flight += 1
        self.stats.batches += 1
        loop = asyncio.get_running_loop()
        future: Future[list[AudioChunk | RemixError]] = self._pool.submit(render_jobs, [p.job for p in batch])

        # The callback takes the future as its argument and must not close over it: the future keeps its
        # callbacks, so a closure over it is a reference cycle, and every batch's chunks (26 KB of audio
        # each) then waited for the garbage collector, whose passes over them paused the event loop.
        def done(finished: Future[list[AudioChunk | RemixError]]) -> None:
            loop.call_soon_threadsafe(self._deliver, batch, finished)

        future.add_done_callback(done)

    def _deliver(self, batch: list[_Pending], future: Future[list[AudioChunk | RemixError]]) -> None:
        self._in_flight -= 1
        try:
            results: Sequence[AudioChunk | RemixError | None] = future.result()
        except CancelledError:  # the server is stopping its mixers (shutdown_mixer_pools): not a failure
            results = [None] * len(batch)
        except Exception:  # a mixer died (killed, out of memory): those chunks are lost, the next ones are not
            logger.exception("live mixer batch failed")
            results = [None] * len(batch)
        for pending, result in zip(batch, results, strict=True):
            if result is not None:
                self.stats.rendered += 1
            for client, sequence in pending.waiters:
                try:
                    if result is None:
                        client.chunk_shed(sequence)
                    else:
                        self.stats.delivered += 1
                        client.chunk_ready(sequence, result)
                except Exception:
                    logger.exception("live chunk delivery failed")
        self._wake.set()

    def snapshot(self) -> dict[str, Any]:
        s = self.stats
        return {"rendered": s.rendered, "delivered": s.delivered, "shared": s.shared, "shed": s.shed,
                "batches": s.batches, "throttled_ticks": s.throttled_ticks, "max_lag_ms": round(s.max_lag_ms, 1),
                "queued": len(self._queue), "in_flight": self._in_flight, "budget": round(self._budget, 2),
                "time": time.time()}
