"""The per-connection send queue: replies are never dropped, media is dropped when it goes stale.

Every connection has one :class:`Outbox` and one sender task draining it, so a client that reads slowly
(or not at all) only ever delays itself. What waits for it is bounded:

* JSON replies (``ack``/``error``/``state``/``notice``) queue in order, at most ``max_replies``; a client
  that lets that many pile up is not reading at all and is disconnected (its session can resume). Before it
  takes the next client message, the connection's reader waits for room (:meth:`Outbox.room_for_replies`):
  a burst of messages already in the socket buffer would otherwise be answered back to back without the
  sender ever running, and the queue would overflow although the client reads.
* Images: only the newest waits. A newer frame replaces an unsent one (the old one is stale).
* Audio: at most ``max_audio`` chunks wait; when full, the oldest is dropped: playing audio late is worse
  than skipping it, and the playhead has moved on anyway.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from remix.live.signal import Signal


class OutboxOverflow(Exception):
    """The client stopped reading: too many replies are waiting."""


ROOM_TIMEOUT_S = 10.0  # how long the reader waits for a backlog of replies to drain before giving up on the client


@dataclass
class OutboxStats:
    images_sent: int = 0
    images_dropped: int = 0
    audio_sent: int = 0
    audio_dropped: int = 0
    replies_sent: int = 0


class Outbox:
    def __init__(self, *, max_replies: int = 256, max_audio: int = 4) -> None:
        self.max_replies = max_replies
        self.max_audio = max_audio
        self._replies: deque[dict[str, Any]] = deque()
        self._audio: deque[bytes] = deque()
        self._image: bytes | None = None
        self._ready = asyncio.Event()
        self._drained = Signal()  # set by the sender once the replies waiting are under the low mark
        self._closed = False
        self.overflowed = False
        self.stats = OutboxStats()

    def reply(self, message: dict[str, Any]) -> None:
        if self._closed:
            return
        if len(self._replies) >= self.max_replies:
            self.overflowed = True
            self._ready.set()
            return
        self._replies.append(message)
        self._ready.set()

    @property
    def _low_mark(self) -> int:
        return max(1, self.max_replies // 2)

    async def room_for_replies(self, timeout: float = ROOM_TIMEOUT_S) -> None:
        """Return at once while fewer than half of ``max_replies`` replies wait; otherwise wait until the sender
        has sent them down to half, and raise :class:`OutboxOverflow` if that takes ``timeout`` seconds."""
        if len(self._replies) < self._low_mark or self._closed:
            return
        self._drained.clear()
        if not await self._drained.wait(timeout):
            raise OutboxOverflow(f"{len(self._replies)} replies still waiting after {timeout:g} s; "
                                 "the client is not reading")

    def image(self, frame: bytes) -> None:
        if self._closed:
            return
        if self._image is not None:
            self.stats.images_dropped += 1
        self._image = frame
        self._ready.set()

    def audio(self, chunk: bytes) -> None:
        if self._closed:
            return
        if len(self._audio) >= self.max_audio:
            self._audio.popleft()
            self.stats.audio_dropped += 1
        self._audio.append(chunk)
        self._ready.set()

    def drop_media(self) -> None:
        """Forget unsent images and audio (rendering stopped: what was rendered before must not play)."""
        self.stats.audio_dropped += len(self._audio)
        self.stats.images_dropped += self._image is not None
        self._audio.clear()
        self._image = None

    def close(self) -> None:
        self._closed = True
        self._ready.set()
        self._drained.set()

    @property
    def pending(self) -> int:
        return len(self._replies) + len(self._audio) + (self._image is not None)

    async def run(self, send_text: Callable[[dict[str, Any]], Awaitable[None]],
                  send_bytes: Callable[[bytes], Awaitable[None]]) -> None:
        """Send until closed; replies first (they are small and someone waits on them), then audio, then images."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            while True:
                if self.overflowed:
                    raise OutboxOverflow(f"more than {self.max_replies} replies waiting; the client is not reading")
                if self._replies:
                    await send_text(self._replies.popleft())
                    self.stats.replies_sent += 1
                    if len(self._replies) < self._low_mark:
                        self._drained.set()
                elif self._audio:
                    await send_bytes(self._audio.popleft())
                    self.stats.audio_sent += 1
                elif self._image is not None:
                    frame, self._image = self._image, None
                    await send_bytes(frame)
                    self.stats.images_sent += 1
                else:
                    break
            if self._closed:
                return
