"""Group commit for Stripe webhook deliveries: concurrent deliveries share one database transaction.

Why: a posting is a few milliseconds of Python and SQL, but its commit — the audit chain's lock held
across a WAL flush — serialises every posting of the database. Posting deliveries one transaction each
capped the webhook path at ~56–90 postings/s on two cores; sharing the commit (and doing the batch's work
set-based, see :func:`remix.commerce.webhooks.receive_batch`) removes that ceiling.

How: a delivery joins the queue. If no thread is flushing, it becomes the *leader*: it takes everything
queued (at most ``max_batch``), posts it in ONE transaction, commits, and hands every delivery of the batch
its outcome; deliveries that arrived meanwhile form the next batch. A lone delivery is simply a batch of
one, so there is a single posting code path. No timer, no waiting for company: under light load every
batch has one delivery and latency is unchanged.

Gathering: a leader whose last batches had company waits up to ``gather_seconds`` (2 ms) for the queue to
reach the largest of the last few batches before it flushes, so concurrent deliveries still arriving are
not split into many small batches (PostgreSQL's ``commit_delay`` idea). A lone delivery never waits.

What a 200 means is unchanged: a delivery is answered only after its batch has committed, so Stripe's
retry semantics hold (a crash before commit loses the whole batch, and Stripe redelivers each event).
If a batch's transaction fails (a database error, an unexpected bug in one event), it is rolled back and
its deliveries are retried one by one, each in its own transaction, so only the faulty event gets its error
(400 when the database cannot hold one of its values, else 500; either way nothing of it is stored).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from remix.commerce import ledger, webhooks
from remix.commerce.config import CommerceSettings
from remix.config import Settings
from remix.db import ROLLBACK_HOOKS
from remix.errors import BadRequest

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _Delivery:
    event: dict[str, Any]
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    lead: bool = False  # handed the leader's role by the previous leader
    outcome: webhooks.WebhookOutcome | None = None
    error: BaseException | None = None

    def finish(self, outcome: webhooks.WebhookOutcome | None, error: BaseException | None) -> None:
        self.outcome, self.error, self.done = outcome, error, True
        self.woken.set()


class WebhookBatcher:
    """One per application process (and database): see the module docstring."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, *, max_batch: int = 256,
                 gather_seconds: float = 0.002) -> None:
        self.sessions = sessions
        self.settings = settings
        self.max_batch = max_batch
        self.gather_seconds = gather_seconds
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: list[_Delivery] = []
        self._leading = False
        self._recent_sizes: deque[int] = deque([1], maxlen=8)
        self._lookups = ledger.LookupCache()  # account ids and split lines: one query fewer each per batch

    def deliver(self, event: dict[str, Any], commerce: CommerceSettings) -> webhooks.WebhookOutcome:
        """Store and apply one verified event; returns once its transaction has committed (or raises)."""
        mine = _Delivery(event)
        with self._lock:
            self._queue.append(mine)
            self._arrived.notify()
            lead = not self._leading
            self._leading = True
        if not lead:
            mine.woken.wait()
            lead = not mine.done  # woken without an outcome: the previous leader handed over
        if lead:
            self._lead(mine, commerce)
        if mine.error is not None:
            raise mine.error
        assert mine.outcome is not None
        return mine.outcome

    def _lead(self, mine: _Delivery, commerce: CommerceSettings) -> None:
        try:
            while not mine.done:
                with self._lock:
                    expected = min(max(self._recent_sizes), self.max_batch)
                    if expected > 1 and len(self._queue) < expected:
                        self._arrived.wait_for(partial(self._queued_at_least, expected),
                                               timeout=self.gather_seconds)
                    batch = self._queue[: self.max_batch]
                    del self._queue[: len(batch)]
                    self._recent_sizes.append(len(batch))
                self._flush(batch, commerce)
        finally:
            # Hand over rather than keep flushing others' batches: this request's answer is ready.
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.woken.set()
                else:
                    self._leading = False

    def _queued_at_least(self, count: int) -> bool:
        return len(self._queue) >= count

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
        self._lookups.start()
        session.info[ledger.LOOKUP_CACHE] = self._lookups
        try:
            outcomes = webhooks.receive_batch(session, self.settings, events,
                                              render_on_payment=commerce.render_on_payment)
            if commerce.crash_before_commit and self.settings.environment == "test":
                session.flush()
                os._exit(86)  # crash-safety test: die with the postings written but not committed
            session.commit()
            self._lookups.commit_fresh()
            return outcomes
        except BaseException:
            session.rollback()
            for undo in session.info.pop(ROLLBACK_HOOKS, []):
                undo()
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
