"""The live service's timed waits: woken by set(), or told they timed out, without raising."""

from __future__ import annotations

import asyncio

from remix.live.signal import Signal


def test_a_wait_ends_when_set_or_when_it_times_out_and_says_which() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        signal = Signal()
        loop = asyncio.get_running_loop()
        started = loop.time()
        timed_out = await signal.wait(0.05)
        waited = loop.time() - started
        waiters = [asyncio.ensure_future(signal.wait(60)) for _ in range(3)]
        await asyncio.sleep(0)
        signal.set()
        woken = await asyncio.wait_for(asyncio.gather(*waiters), 5)
        already = await signal.wait(60)  # set and not cleared: returns at once
        signal.clear()
        return timed_out, waited >= 0.04, all(woken) and len(woken) == 3, already

    timed_out, waited, woken, already = asyncio.run(scenario())
    assert timed_out is False and waited
    assert woken and already is True


def test_a_cancelled_wait_leaves_no_waiter_behind() -> None:
    async def scenario() -> int:
        signal = Signal()
        task = asyncio.ensure_future(signal.wait(60))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return len(signal._waiters)

    assert asyncio.run(scenario()) == 0
