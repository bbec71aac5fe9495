"""An event whose wait can time out without raising.

``asyncio.wait_for(event.wait(), timeout)`` wraps the wait in a task and, on timeout, cancels it and raises
``TimeoutError``: a task, a ``CancelledError``, a ``TimeoutError`` and their tracebacks, all in reference
cycles. The live service waits like that about 600 times a second under 500 fans (each session's consent
watch once a second, the mixer's dispatcher every tick), and those cycles were nearly all the garbage the
collector had to find, in passes that paused the event loop. :class:`Signal` times out with a timer that
resolves a future: nothing raised, no cycles.
"""

from __future__ import annotations

import asyncio


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Signal:
    """``set()`` wakes every waiter (and later waits return at once until ``clear()``)."""

    def __init__(self) -> None:
        self._set = False
        self._waiters: set[asyncio.Future[None]] = set()

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            _resolve(waiter)

    def clear(self) -> None:
        self._set = False

    async def wait(self, timeout: float | None = None) -> bool:
        """Until set, or ``timeout`` seconds; True if it was set."""
        if self._set:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.add(waiter)
        timer = loop.call_later(timeout, _resolve, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)
            if timer is not None:
                timer.cancel()
        return self._set
