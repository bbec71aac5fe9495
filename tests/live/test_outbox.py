"""The send queue's backpressure: a burst of client messages never outruns the sender, and a client that does
not read at all is still given up on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from remix.live.outbox import Outbox, OutboxOverflow


def test_a_burst_waits_for_the_sender_instead_of_overflowing() -> None:
    async def scenario() -> list[dict[str, Any]]:
        outbox = Outbox(max_replies=8)
        sent: list[dict[str, Any]] = []

        async def send_text(message: dict[str, Any]) -> None:
            await asyncio.sleep(0)  # a socket write that yields, as a real one does
            sent.append(message)

        async def send_bytes(data: bytes) -> None:
            raise AssertionError("no media in this test")

        sender = asyncio.create_task(outbox.run(send_text, send_bytes))
        for i in range(100):  # the reader answers 100 messages that were all in the socket buffer already
            await outbox.room_for_replies(timeout=5)
            outbox.reply({"type": "ack", "id": i})
        outbox.close()  # the sender sends what is left, then stops (or raises OutboxOverflow had it overflowed)
        await asyncio.wait_for(sender, 5)
        return sent

    sent = asyncio.run(scenario())
    assert [m["id"] for m in sent] == list(range(100))  # every reply, in order, no overflow


def test_a_client_that_never_reads_is_given_up_on() -> None:
    async def scenario() -> None:
        outbox = Outbox(max_replies=8)
        stalled = asyncio.Event()  # the socket write never completes: the client is not reading

        async def send_text(message: dict[str, Any]) -> None:
            await stalled.wait()

        async def send_bytes(data: bytes) -> None:
            await stalled.wait()

        sender = asyncio.create_task(outbox.run(send_text, send_bytes))
        try:
            for i in range(100):
                await outbox.room_for_replies(timeout=0.2)
                outbox.reply({"type": "ack", "id": i})
        finally:
            sender.cancel()

    with pytest.raises(OutboxOverflow, match="not reading"):
        asyncio.run(scenario())
