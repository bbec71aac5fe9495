"""Group commit for Stripe webhook deliveries: concurrent deliveries share one database transaction.

Why: a posting is a few milliseconds of Python and SQL, but its commit — the audit chain's lock held
across a WAL flush — serialises every posting of the database. Posting deliveries one transaction each
capped the webhook path at ~56–90 postings/s on two cores; sharing the commit (and doing the batch's work
set-based, see :func:`remix.commerce.webhooks.receive_batch`) removes that ceiling.

How: the webhook endpoint is ``async``; a delivery puts its verified event on its event loop's queue and
awaits the answer. One drain task per loop takes everything queued (at most ``max_batch``), posts it in
ONE transaction on a worker thread, commits, and answers every delivery of the batch; deliveries that
arrived meanwhile form the next batch. A lone delivery is simply a batch of one, so there is a single
posting code path, and nothing waits for company: under light load latency is unchanged. (Waiting on the
loop rather than in a thread per request also spares each delivery a thread hand-off.)

What a 200 means is unchanged: a delivery is answered only after its batch has committed, so Stripe's
retry semantics hold (a crash before commit loses the whole batch, and Stripe redelivers each event).
If a batch's transaction fails (a database error, an unexpected bug in one event), it is rolled back and
its deliveries are retried one by one, each in its own transaction, so only the faulty event gets its error
(400 when the database cannot hold one of its values, else 500; either way nothing of it is stored).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from remix.commerce import ledger, webhooks
from remix.commerce.config import CommerceSettings
from remix.config import Settings
from remix.db import roll_back
from remix.errors import BadRequest

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _Delivery:
    event: dict[str, Any]
    future: asyncio.Future[webhooks.WebhookOutcome]
    outcome: webhooks.WebhookOutcome | None = None
    error: BaseException | None = None

    def finish(self, outcome: webhooks.WebhookOutcome | None, error: BaseException | None) -> None:
        self.outcome, self.error = outcome, error  # set on the worker thread; answered on the loop

    def answer(self) -> None:
        if self.future.done():  # the client went away
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        elif self.outcome is not None:
            self.future.set_result(self.outcome)
        else:
            self.future.set_exception(RuntimeError("webhook batch stopped before this event was posted"))


@dataclass(eq=False)
class _LoopQueue:
    deliveries: list[_Delivery] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None


class WebhookBatcher:
    """One per application process (and database): see the module docstring."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, *, max_batch: int = 256) -> None:
        self.sessions = sessions
        self.settings = settings
        self.max_batch = max_batch
        self._queues: dict[asyncio.AbstractEventLoop, _LoopQueue] = {}
        self._lookups = ledger.LookupCache()  # account ids and split lines: one query fewer each per batch

    def queued(self) -> int:
        """Deliveries waiting for a batch (not yet being posted)."""
        return sum(len(queue.deliveries) for queue in list(self._queues.values()))

    async def deliver(self, event: dict[str, Any], commerce: CommerceSettings) -> webhooks.WebhookOutcome:
        """Store and apply one verified event; returns once its transaction has committed (or raises)."""
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _LoopQueue())
        mine = _Delivery(event, loop.create_future())
        queue.deliveries.append(mine)
        if queue.drain is None:
            queue.drain = loop.create_task(self._drain(loop, queue, commerce))
        return await mine.future

    async def _drain(self, loop: asyncio.AbstractEventLoop, queue: _LoopQueue, commerce: CommerceSettings) -> None:
        batch: list[_Delivery] = []
        try:
            while queue.deliveries:
                batch = queue.deliveries[: self.max_batch]
                del queue.deliveries[: len(batch)]
                await anyio.to_thread.run_sync(self._flush, batch, commerce)
                for delivery in batch:
                    delivery.answer()
                batch = []
        finally:
            for delivery in batch:  # cancelled mid-batch (shutdown): nobody is left waiting forever
                delivery.answer()
            queue.drain = None
            if not queue.deliveries:
                self._queues.pop(loop, None)

    def _flush(self, batch: list[_Delivery], commerce: CommerceSettings) -> None:
        try:
            outcomes = self._transaction([d.event for d in batch], commerce)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].finish(None, _as_client_error(exc))
                return
            logger.warning("webhook batch of %d failed (%s); retrying its events one by one", len(batch), exc)
            for delivery in batch:
                self._flush([delivery], commerce)
            return
        except BaseException as exc:  # pragma: no cover - interpreter shutdown: answer everyone, then go
            for delivery in batch:
                delivery.finish(None, exc)
            raise
        for delivery, outcome in zip(batch, outcomes, strict=True):
            delivery.finish(outcome, None)

    def _transaction(self, events: list[dict[str, Any]], commerce: CommerceSettings) -> list[webhooks.WebhookOutcome]:
        session = self.sessions()
        fresh = ledger.LookupCache()
        session.info[ledger.LOOKUP_CACHE] = (self._lookups, fresh)
        try:
            outcomes = webhooks.receive_batch(session, self.settings, events,
                                              render_on_payment=commerce.render_on_payment)
            if commerce.crash_before_commit and self.settings.environment == "test":
                session.flush()
                os._exit(86)  # crash-safety test: die with the postings written but not committed
            session.commit()
            self._lookups.merge(fresh)
            return outcomes
        except BaseException:
            roll_back(session)
            raise
        finally:
            session.close()


def _as_client_error(exc: Exception) -> Exception:
    """A value the database cannot hold (a number out of range, a string too long) is the event's fault:
    400, which Stripe shows as a failed delivery; anything else stays an error of ours (500)."""
    if isinstance(exc, DataError | OverflowError):
        return BadRequest(f"webhook event could not be stored ({type(exc).__name__}); nothing was posted")
    return exc


_created = threading.Lock()


def batcher_for(state: Any) -> WebhookBatcher:
    """The application's batcher (``app.state``), made on first use for its current sessionmaker."""
    with _created:
        found: WebhookBatcher | None = getattr(state, "webhook_batcher", None)
        if found is None or found.sessions is not state.sessionmaker or found.settings is not state.settings:
            found = WebhookBatcher(state.sessionmaker, state.settings)
            state.webhook_batcher = found
        return found
