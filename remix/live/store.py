"""Where a live session's resumable state lives between connections.

A fan whose connection drops reconnects with ``?session=<id>`` and gets the same mix, prompt and playhead
back. The in-process store below is enough for one server process; :class:`SessionStore` is the whole
interface, so a Redis-backed store (``GET``/``SET`` with ``EX``) can replace it for several processes.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class SavedSession:
    """What a reconnect restores. ``mix`` is the live part of a RemixSpec (no window: the playhead is it)."""

    session_id: str
    user_id: int
    track_id: int
    mix: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    position_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "user_id": self.user_id, "track_id": self.track_id,
                "mix": copy.deepcopy(self.mix), "prompt": self.prompt, "position_seconds": self.position_seconds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedSession:
        return cls(session_id=str(data["session_id"]), user_id=int(data["user_id"]), track_id=int(data["track_id"]),
                   mix=dict(data.get("mix") or {}), prompt=str(data.get("prompt") or ""),
                   position_seconds=float(data.get("position_seconds") or 0.0))


class SessionStore(Protocol):
    def load(self, session_id: str) -> SavedSession | None: ...

    def save(self, state: SavedSession) -> None: ...

    def delete(self, session_id: str) -> None: ...


class InMemorySessionStore:
    """Saved sessions kept ``ttl_seconds`` after their last save, at most ``max_sessions`` (oldest out first)."""

    def __init__(self, *, ttl_seconds: float = 3600.0, max_sessions: int = 100_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, session_id: str) -> SavedSession | None:
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is None:
                return None
            if time.monotonic() - entry[0] > self.ttl_seconds:
                del self._entries[session_id]
                return None
            # Stored as JSON-shaped data, as Redis would: a loaded state never aliases a live session's.
            return SavedSession.from_json(entry[1])

    def save(self, state: SavedSession) -> None:
        with self._lock:
            self._entries.pop(state.session_id, None)
            self._entries[state.session_id] = (time.monotonic(), state.to_json())
            while len(self._entries) > self.max_sessions:
                self._entries.popitem(last=False)

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._entries.pop(session_id, None)
