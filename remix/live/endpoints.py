"""Live fan sessions: the websocket, and the snapshots fans save from it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from remix.auth.deps import SESSION_COOKIE, CurrentUser
from remix.db import SessionDep
from remix.errors import NotFound, RemixError, Unauthorized, error_responses
from remix.live import service
from remix.live.hub import hub_for
from remix.live.models import LiveSnapshot
from remix.live.outbox import Outbox, OutboxOverflow
from remix.live.protocol import AuthMessage, ProtocolError, ack, parse_client_message
from remix.live.session import LiveSession, fresh_state

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["live"])

# Close codes (4000–4999 are the application's): the client should not retry these as they are.
CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_READING = 4408


class SnapshotOut(BaseModel):
    id: int
    track_id: int
    title: str
    spec: dict[str, Any]
    spec_hash: str
    prompt: str
    visual_model_id: int | None


def _snapshot_out(snapshot: LiveSnapshot) -> SnapshotOut:
    return SnapshotOut(id=snapshot.id, track_id=snapshot.track_id, title=snapshot.title, spec=snapshot.spec,
                       spec_hash=snapshot.spec_hash, prompt=snapshot.prompt, visual_model_id=snapshot.visual_model_id)


@router.get("/live/snapshots", response_model=list[SnapshotOut], responses=error_responses(Unauthorized))
def list_snapshots(session: SessionDep, user: CurrentUser, track_id: int | None = None) -> list[SnapshotOut]:
    """Your saved live snapshots (admins: everyone's). Each ``spec`` is a complete RemixSpec: post it to
    ``/api/tracks/{track_id}/clip`` for the same audio you heard."""
    return [_snapshot_out(s) for s in service.list_snapshots(session, user, track_id)]


@router.get("/live/snapshots/{snapshot_id}", response_model=SnapshotOut,
            responses=error_responses(Unauthorized, NotFound))
def get_snapshot(snapshot_id: int, session: SessionDep, user: CurrentUser) -> SnapshotOut:
    """One saved snapshot: its RemixSpec, spec hash and prompt."""
    return _snapshot_out(service.get_snapshot(session, user, snapshot_id))


def _token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return websocket.cookies.get(SESSION_COOKIE)


async def _receive(websocket: WebSocket) -> str | bytes | None:
    """The next client message, or None once the client has gone."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text: str | None = message.get("text")
    return text if text is not None else message.get("bytes") or b""


@router.websocket("/tracks/{track_id}/live")
async def live_session(websocket: WebSocket, track_id: int, session: str | None = None) -> None:
    """A fan's live session on a track (see :mod:`remix.live.protocol` for the messages and frames).

    Authenticate with the session cookie, ``Authorization: Bearer``, or a first ``auth`` message. Reconnect
    with ``?session=<session_id>`` (from the ``state`` message) to resume the same mix, prompt and playhead.
    """
    await websocket.accept()
    hub = hub_for(websocket.app)
    outbox = Outbox(max_replies=hub.config.max_replies_waiting, max_audio=hub.config.max_audio_waiting)
    sender = asyncio.get_running_loop().create_task(outbox.run(websocket.send_json, websocket.send_bytes))
    live: LiveSession | None = None
    close_code = 1000
    try:
        user_id = await _authenticate(websocket, hub.factory, outbox)
        if user_id is None:
            return
        try:
            context = await asyncio.to_thread(service.open_track, hub.factory, track_id)
        except RemixError as exc:
            outbox.reply({"type": "error", "id": None, "error": type(exc).__name__, "detail": exc.detail})
            close_code = CLOSE_NOT_FOUND
            return
        saved = hub.store.load(session) if session else None
        resumed = saved is not None and saved.user_id == user_id and saved.track_id == track_id
        if session and not resumed:
            outbox.reply({"type": "notice", "notice": "SessionNotFound",
                          "detail": f"no session '{session}' to resume on this track; a new one was started"})
        state = saved if resumed and saved is not None else fresh_state(user_id, track_id)
        try:
            await asyncio.to_thread(service.require_preview, hub.factory, [s.id for s in context.stems
                                                                           if s.id in _audible(context, state.mix)])
            live = LiveSession(hub, outbox, user_id, context, state, resumed=resumed)
        except (RemixError, ProtocolError) as exc:
            name = exc.error if isinstance(exc, ProtocolError) else type(exc).__name__
            outbox.reply({"type": "error", "id": None, "error": name, "detail": exc.detail})
            close_code = CLOSE_FORBIDDEN
            return
        await live.start()
        # The receive loop answers each message as it arrives (an ack is queued before the next receive).
        # It does not also wait on the sender per message (that cost a future and two callbacks a message):
        # if the sender fails (the client stopped reading, or went away), it cancels this loop instead.
        reader = asyncio.current_task()
        assert reader is not None
        sender_failed: BaseException | None = None

        def sender_done(task: asyncio.Task[None]) -> None:
            nonlocal sender_failed
            if not task.cancelled() and task.exception() is not None:
                sender_failed = task.exception()
                reader.cancel()

        sender.add_done_callback(sender_done)
        try:
            while (raw := await _receive(websocket)) is not None:
                await outbox.room_for_replies()  # backpressure: a burst never outruns the sender
                try:
                    await live.handle(parse_client_message(raw))
                except ProtocolError as exc:
                    outbox.reply(exc.to_json())
        except asyncio.CancelledError:
            if sender_failed is None:
                raise
            reader.uncancel()
            if isinstance(sender_failed, OutboxOverflow):
                raise sender_failed from None
        finally:
            sender.remove_done_callback(sender_done)
    except (WebSocketDisconnect, OutboxOverflow):
        close_code = CLOSE_NOT_READING
    finally:
        if live is not None:
            await live.close()
        outbox.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sender, 2.0)
        sender.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await websocket.close(close_code)


def _audible(context: service.TrackContext, mix: dict[str, Any]) -> set[int]:
    from remix.live.audio import audible_asset_ids, spec_for_window

    try:
        spec = spec_for_window(mix, 0.0, min(1.0, context.duration_seconds))
    except ValueError:
        return {s.id for s in context.stems}
    return set(audible_asset_ids(context.stems, spec))


async def _authenticate(websocket: WebSocket, factory: Any, outbox: Outbox) -> int | None:
    """The user id from the cookie/header, or from the first ``auth`` message; None if the client left first.

    Until then every other message gets a typed ``Unauthorized`` error and the connection stays open.
    """
    token = _token(websocket)
    if token:
        user_id = await asyncio.to_thread(service.authenticate, factory, token)
        if user_id is not None:
            return user_id
        outbox.reply({"type": "error", "id": None, "error": "Unauthorized",
                      "detail": "the session token is invalid or expired; send an 'auth' message with a valid token"})
    while (raw := await _receive(websocket)) is not None:
        try:
            message = parse_client_message(raw)
        except ProtocolError as exc:
            outbox.reply(exc.to_json())
            continue
        if not isinstance(message, AuthMessage):
            outbox.reply(ProtocolError("Unauthorized", "authenticate first: send {\"type\": \"auth\", \"id\": ..., "
                                       "\"token\": ...} or connect with the session cookie", message.id).to_json())
            continue
        user_id = await asyncio.to_thread(service.authenticate, factory, message.token)
        if user_id is None:
            outbox.reply(ProtocolError("Unauthorized", "the token is invalid or expired; log in again",
                                       message.id).to_json())
            continue
        outbox.reply(ack(message.id))
        return user_id
    return None
