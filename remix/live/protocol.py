"""The live websocket protocol: client JSON messages, server JSON replies, and binary media frames.

Client → server (JSON text, at most ``MAX_MESSAGE_BYTES``): ``auth`` (only needed when the socket was
opened without a session cookie or ``Authorization`` header), ``prompt``, ``mix``, ``seek``, ``play``,
``pause``, ``ping``, ``snapshot``. Every message carries a client-chosen ``id`` and is answered by an
``ack`` with that id or by a typed ``error``.

Server → client: JSON ``ack`` / ``error`` / ``state`` / ``notice`` text messages, and binary frames:
a 16-byte header (magic ``RX``, version, kind, sequence number, timestamp in ms) then the payload
(a JPEG/WebP image or an encoded audio chunk).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_MESSAGE_BYTES = 16 * 1024
MAX_PROMPT_CHARS = 300

FRAME_MAGIC = b"RX"
FRAME_VERSION = 1
_HEADER = struct.Struct(">2sBBIQ")  # magic, version, kind, sequence, timestamp ms
FRAME_HEADER_BYTES = _HEADER.size


class FrameKind(IntEnum):
    image_jpeg = 1
    image_webp = 2
    audio_mp3 = 3
    audio_opus = 4
    audio_wav = 5


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=64)]


class AuthMessage(_Message):
    """The login token, for clients that cannot set headers or cookies on a websocket."""

    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=512)]


class PromptMessage(_Message):
    type: Literal["prompt"]
    text: Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]


class MixMessage(_Message):
    """A partial RemixSpec: only the fields given change."""

    type: Literal["mix"]
    spec: dict[str, Any]


class SeekMessage(_Message):
    type: Literal["seek"]
    position_seconds: Annotated[float, Field(ge=0, le=24 * 3600)]


class PlayMessage(_Message):
    type: Literal["play"]


class PauseMessage(_Message):
    type: Literal["pause"]


class PingMessage(_Message):
    type: Literal["ping"]


class SnapshotMessage(_Message):
    """Save the current mix and prompt as a RemixSpec the fan can later download or buy."""

    type: Literal["snapshot"]
    title: Annotated[str, Field(default="", max_length=200)] = ""
    length_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0


ClientMessage = Annotated[
    AuthMessage | PromptMessage | MixMessage | SeekMessage | PlayMessage | PauseMessage | PingMessage
    | SnapshotMessage,
    Field(discriminator="type"),
]
_client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class ProtocolError(Exception):
    """A client message the server cannot act on; sent back as a typed ``error`` message."""

    def __init__(self, error: str, detail: str, message_id: str | None = None,
                 facts: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail
        self.message_id = message_id
        self.facts = facts or {}  # a RemixError's machine-readable facts (e.g. asset_ids), sent beside detail

    def to_json(self) -> dict[str, Any]:
        return {**self.facts, "type": "error", "id": self.message_id, "error": self.error, "detail": self.detail}


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse one client message or raise :class:`ProtocolError` naming what is wrong with it."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError("MessageTooLarge", f"messages may be at most {MAX_MESSAGE_BYTES} bytes; got {size}")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting: RecursionError
        raise ProtocolError("MalformedMessage", f"message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("MalformedMessage", "message must be a JSON object with 'type' and 'id'")
    message_id = data.get("id") if isinstance(data.get("id"), str) else None
    known = ("auth", "prompt", "mix", "seek", "play", "pause", "ping", "snapshot")
    if data.get("type") not in known:
        raise ProtocolError("UnknownMessageType", f"'type' must be one of {', '.join(known)}", message_id)
    try:
        return _client_message.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'message'}: {err['msg']}" for err in exc.errors()
        )
        raise ProtocolError("InvalidMessage", problems, message_id) from exc


def ack(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "ack", "id": message_id, **extra}


@dataclass(frozen=True)
class Frame:
    kind: FrameKind
    sequence: int
    timestamp_ms: int
    payload: bytes


def pack_frame(kind: FrameKind, sequence: int, timestamp_ms: int, payload: bytes) -> bytes:
    return _HEADER.pack(FRAME_MAGIC, FRAME_VERSION, int(kind), sequence & 0xFFFFFFFF, timestamp_ms) + payload


def unpack_frame(data: bytes) -> Frame:
    if len(data) < FRAME_HEADER_BYTES:
        raise ValueError(f"frame shorter than its {FRAME_HEADER_BYTES}-byte header")
    magic, version, kind, sequence, timestamp_ms = _HEADER.unpack_from(data)
    if magic != FRAME_MAGIC or version != FRAME_VERSION:
        raise ValueError("not a Remix frame (bad magic or version)")
    return Frame(FrameKind(kind), sequence, timestamp_ms, data[FRAME_HEADER_BYTES:])
