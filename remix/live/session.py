"""One fan's live session: the message handlers, the audio loop, the visual loop and the consent watch.

Everything a handler does on the event loop is quick (validating a mix, moving the playhead); database
work runs in worker threads and audio is mixed in low-priority processes (:mod:`remix.live.mixer`), so a
control message is answered in well under a frame's time even while hundreds of sessions are playing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from remix.audio.errors import RemixSpecRejected
from remix.audio.service import fit_spec_to_track
from remix.audio.spec import RemixSpec
from remix.catalog.storage import AssetStore
from remix.errors import Conflict, ConsentNotGranted, NotFound, RemixError
from remix.live import service
from remix.live.audio import (
    CHUNK_SECONDS,
    LEAD_SECONDS,
    LIVE_FIELDS,
    AudioChunk,
    chunk_window,
    energy_to_level,
    merge_mix,
    spec_for_window,
)
from remix.live.hub import LiveHub
from remix.live.mixer import ChunkJob, StemFile
from remix.live.outbox import Outbox
from remix.live.protocol import (
    AuthMessage,
    ClientMessage,
    FrameKind,
    MixMessage,
    PauseMessage,
    PingMessage,
    PlayMessage,
    PromptMessage,
    ProtocolError,
    SeekMessage,
    SnapshotMessage,
    ack,
    pack_frame,
)
from remix.live.ratelimit import TokenBucket
from remix.live.service import TrackContext
from remix.live.store import SavedSession
from remix.live.visual import FrameRequest, FrameResult, PromptBlend, embed_prompt, strength_for_energy

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


# How long a session's opening chunk may wait for a mixer before it is shed (and asked for again).
OPENING_PATIENCE_SECONDS = 0.5
# How long a session waits before asking again for a frame whose render failed.
FRAME_RETRY_SECONDS = 1.0


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def _validation_detail(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'spec'}: {err['msg']}" for err in exc.errors())


class LiveSession:
    def __init__(self, hub: LiveHub, outbox: Outbox, user_id: int, context: TrackContext, saved: SavedSession,
                 *, resumed: bool) -> None:
        self.hub = hub
        self.outbox = outbox
        self.user_id = user_id
        self.ctx = context
        self.session_id = saved.session_id
        self.resumed = resumed
        self.mix: dict[str, Any] = saved.mix
        self.prompt = saved.prompt
        self.playing = False
        self.revoked = False
        self.artwork_withheld: tuple[int, ...] = ()  # the album's artwork fans may not see now
        self.visuals_on = False
        self.visuals_reason = context.visuals_reason
        self.model_id = context.model_id
        self.pipeline: Any = None
        self._loop = asyncio.get_running_loop()
        # Playhead in track seconds: anchor + tempo × (now − anchor time) while playing.
        self._anchor_pos = min(saved.position_seconds, max(0.0, context.duration_seconds - 0.05))
        self._anchor_time = self._loop.time()
        self._render_pos = self._anchor_pos
        self.wake_at = 0.0  # the mixer's dispatcher skips this session until then (see ChunkClient.wake_at)
        self.audio_sequence = 0
        self.image_sequence = 0
        self.level = 0.0  # loudness of the last chunk, 0…1: drives the visuals' strength
        self.blend = PromptBlend()
        self._prev_pixels: torch.Tensor | None = None
        self._prev_latents: torch.Tensor | None = None  # set by autoencoder models (see FrameRequest.init_latents)
        self._frame_index = 0
        self._last_submit = 0.0
        self._chunk_in_flight = False
        self._starting = False
        self._unsaved = False
        self._consent_refresh: asyncio.Task[None] | None = None
        self.audio_shed = 0  # chunks not rendered because the mixers could not keep up (see remix.live.mixer)
        self.audio_skipped_seconds = 0.0  # track time the playhead passed without audio for the same reason
        self._stem_ids = {s.stem_name: s.id for s in context.stems if s.stem_name}
        store = AssetStore(hub.settings.asset_dir)
        self._stem_files = tuple(StemFile(s.stem_name or "", s.sha256, str(store.path_for(s.storage_key)))
                                 for s in context.stems)
        self._frame_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        config = hub.config
        self._messages = TokenBucket(config.messages_per_second, config.message_burst)
        self._prompts = TokenBucket(config.prompts_per_second, config.prompt_burst)
        self.spec = self._validate_mix(self.mix)  # a resumed mix was valid when saved
        self._mix_json = _canonical(self.mix)
        self._consent = self._consent_key_for(self.spec)
        # Built once, not per message (eight bound methods a message add up at thousands a second).
        self._handlers: dict[type, Callable[[Any], Awaitable[dict[str, Any]]]] = {
            PingMessage: self._on_ping, PlayMessage: self._on_play, PauseMessage: self._on_pause,
            SeekMessage: self._on_seek, MixMessage: self._on_mix, PromptMessage: self._on_prompt,
            SnapshotMessage: self._on_snapshot, AuthMessage: self._on_auth,
        }

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.hub.session_started()
        self.hub.scheduler.register(self.session_id, self._deliver_frame, self._frame_failed)
        self.hub.mixer.register(self.session_id, self)
        self.hub.mixer.decode_ahead(self._stem_files, self.ctx.sample_rate)
        if self.model_id is not None:
            try:
                self.pipeline = await asyncio.to_thread(service.load_pipeline, self.hub.factory, self.hub.settings,
                                                        self.user_id, self.model_id)
                self.hub.remember_pipeline(self.model_id, self.pipeline)
                self.visuals_on = True
            except RemixError as exc:
                self.visuals_reason = _visuals_off_reason(exc)
        if self.visuals_on and self.prompt:
            await self._set_prompt_embedding(self.prompt)
        self.artwork_withheld = await self._withheld_artwork()
        self.outbox.reply(self.state_message())
        self._tasks = [self._loop.create_task(self._visual_loop(), name=f"live-visual-{self.session_id}"),
                       self._loop.create_task(self._consent_watch(), name=f"live-consent-{self.session_id}")]

    async def close(self) -> None:
        self.hub.mixer.unregister(self.session_id)
        if self._consent_refresh is not None:
            self._tasks.append(self._consent_refresh)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.hub.scheduler.unregister(self.session_id)
        self.save()
        await self.hub.session_ended()

    def save(self) -> None:
        self._unsaved = False
        self.hub.store.save(SavedSession(session_id=self.session_id, user_id=self.user_id,
                                         track_id=self.ctx.track.id, mix=self.mix, prompt=self.prompt,
                                         position_seconds=self.position()))

    def state_message(self) -> dict[str, Any]:
        return {
            "type": "state", "session_id": self.session_id, "resumed": self.resumed, "track_id": self.ctx.track.id,
            "duration_seconds": round(self.ctx.duration_seconds, 3), "mix": self.mix, "prompt": self.prompt,
            "position_seconds": round(self.position(), 3), "playing": self.playing, "rendering": not self.revoked,
            "artwork_withheld": list(self.artwork_withheld),
            "audio": {"format": "wav", "sample_rate": self.ctx.sample_rate, "chunk_seconds": CHUNK_SECONDS,
                      "lead_seconds": LEAD_SECONDS},
            "visuals": {"available": self.visuals_on, "model_id": self.model_id if self.visuals_on else None,
                        "reason": "" if self.visuals_on else self.visuals_reason, "format": "jpeg",
                        "size": self.hub.config.frame_size},
        }

    # ------------------------------------------------------------------------------------------ playhead

    @property
    def tempo(self) -> float:
        return self.spec.tempo

    def position(self) -> float:
        if not self.playing or self._starting:
            return max(0.0, self._anchor_pos)
        return max(0.0, self._anchor_pos + self.tempo * (self._loop.time() - self._anchor_time))

    def _reanchor(self) -> None:
        self._anchor_pos, self._anchor_time = self.position(), self._loop.time()
        self.wake_at = 0.0

    # ------------------------------------------------------------------------------------------ messages

    async def handle(self, message: ClientMessage) -> None:
        """Answer one message with an ack or a typed error (raised as ProtocolError)."""
        wait = self._messages.take()
        if wait:
            raise ProtocolError("RateLimited", f"too many messages; retry in {wait * 1000:.0f} ms", message.id)
        handler = self._handlers[type(message)]
        try:
            self.outbox.reply(await handler(message))
        except RemixError as exc:
            raise ProtocolError(type(exc).__name__, exc.detail, message.id, exc.facts) from exc

    async def _on_auth(self, message: AuthMessage) -> dict[str, Any]:
        return ack(message.id, already_authenticated=True)

    async def _on_ping(self, message: PingMessage) -> dict[str, Any]:
        stats = self.outbox.stats
        # Media the fan did not get, and why: dropped here because the client read too slowly, or shed
        # (never rendered) because the server's mixers could not keep up.
        return ack(message.id, server_time_ms=int(time.time() * 1000), position_seconds=round(self.position(), 3),
                   images_dropped=stats.images_dropped, audio_sent=stats.audio_sent, audio_dropped=stats.audio_dropped,
                   audio_shed=self.audio_shed, audio_skipped_seconds=round(self.audio_skipped_seconds, 3))

    async def _on_play(self, message: PlayMessage) -> dict[str, Any]:
        if self.revoked:
            # Only a fresh check can lift a revocation (the artist granted again).
            await asyncio.to_thread(self._check_audio_consent, True)
            self.revoked = False
            self.outbox.reply(self.state_message())
        if not self.playing:
            self._reanchor()
            self.playing = True
            # The playhead starts moving when the first chunk is sent, as the browser's does when it
            # arrives: a slow first render (mixers starting, a busy server) must not skip the opening.
            self._starting = True
            self._render_pos = self._anchor_pos
            self.hub.mixer.wake()
            self._frame_wanted.set()
        return ack(message.id, position_seconds=round(self.position(), 3))

    async def _on_pause(self, message: PauseMessage) -> dict[str, Any]:
        if self.playing:
            self._reanchor()
            self.playing = False
            self._starting = False
            self.level = 0.0
            self.save()
        return ack(message.id, position_seconds=round(self.position(), 3))

    async def _on_seek(self, message: SeekMessage) -> dict[str, Any]:
        if message.position_seconds >= self.ctx.duration_seconds:
            raise ProtocolError("SeekOutOfRange", f"position_seconds: {message.position_seconds:g} s is past the end "
                                f"of the track ({self.ctx.duration_seconds:.3f} s)", message.id)
        self._anchor_pos, self._anchor_time = message.position_seconds, self._loop.time()
        self._render_pos = message.position_seconds
        self.wake_at = 0.0
        self.hub.mixer.wake()
        self.save()
        return ack(message.id, position_seconds=round(message.position_seconds, 3),
                   applies_from_audio_sequence=self.audio_sequence)

    def _validate_mix(self, mix: dict[str, Any]) -> RemixSpec:
        unknown = sorted(set(mix) - set(LIVE_FIELDS))
        if unknown:
            raise ProtocolError("InvalidMix", f"{unknown[0]}: not a live mix field; a mix may change "
                                f"{', '.join(LIVE_FIELDS)} (the playhead sets the window)")
        try:
            spec = spec_for_window(mix, 0.0, min(1.0, self.ctx.duration_seconds))
        except ValidationError as exc:
            raise ProtocolError("InvalidMix", _validation_detail(exc)) from exc
        try:
            fit_spec_to_track(self.ctx.track, self.ctx.stems, spec)
        except RemixSpecRejected as exc:
            raise ProtocolError("RemixSpecRejected", exc.detail) from exc
        return spec

    async def _on_mix(self, message: MixMessage) -> dict[str, Any]:
        merged = merge_mix(self.mix, message.spec)
        try:
            spec = self._validate_mix(merged)
        except ProtocolError as exc:
            exc.message_id = message.id
            raise
        if spec.tempo != self.spec.tempo:
            self._reanchor()
        self.mix, self.spec, self._mix_json = merged, spec, _canonical(merged)
        self._consent = self._consent_key_for(spec)
        self.hub.mixer.wake()
        # Saved by the consent watch within a recheck interval, and on close: a fader drag sends
        # many mix messages a second, and the store may be across the network (Redis).
        self._unsaved = True
        # Chunks numbered from here on are mixed with the new settings (earlier ones are already rendering).
        # No spec hash here: a live mix has no window until a snapshot gives it one (the snapshot's ack
        # carries the hash), and hashing every fader move cost a quarter of the event loop's time at load.
        return ack(message.id, applies_from_audio_sequence=self.audio_sequence)

    async def _on_prompt(self, message: PromptMessage) -> dict[str, Any]:
        wait = self._prompts.take()
        if wait:
            raise ProtocolError("RateLimited", f"at most {self.hub.config.prompts_per_second:g} prompts per second; "
                                f"retry in {wait * 1000:.0f} ms", message.id)
        text = message.text.strip()
        key = ("rules", self.ctx.artist_id)
        hit, facts = self.hub.rules.cached(key)
        if not hit:
            load = functools.partial(service.prompt_rules, self.hub.factory, self.ctx.artist_id)
            facts = await asyncio.to_thread(self.hub.rules.get, key, load)
        reason = facts.refusal(text)
        if reason is not None:
            raise ProtocolError("PromptRefused", reason, message.id)
        self.prompt = text
        self.save()
        if self.visuals_on:
            await self._set_prompt_embedding(text)
        return ack(message.id, visuals=self.visuals_on, applies_from_frame_sequence=self.image_sequence)

    async def _on_snapshot(self, message: SnapshotMessage) -> dict[str, Any]:
        duration = self.ctx.duration_seconds
        length = min(message.length_seconds, duration)
        start = min(self.position(), duration - length)
        spec = spec_for_window(self.mix, round(start, 3), round(length, 3))
        snapshot = await asyncio.to_thread(service.save_snapshot, self.hub.factory, self.user_id, self.ctx.track.id,
                                           spec, title=message.title, prompt=self.prompt,
                                           model_id=self.model_id if self.visuals_on else None)
        return ack(message.id, snapshot_id=snapshot.id, spec=snapshot.spec, spec_hash=snapshot.spec_hash)

    # ------------------------------------------------------------------------------------------ consent

    def _consent_key_for(self, spec: RemixSpec) -> tuple[str, tuple[int, ...]]:
        # Worked out once per mix change, not per chunk: the audible stems only change with the mix.
        return "preview", tuple(sorted(self._stem_ids[name] for name in spec.audible_stems(self._stem_ids)))

    def _consent_key(self) -> tuple[str, tuple[int, ...]]:
        return self._consent

    def _check_audio_consent(self, fresh: bool = False) -> None:
        key = self._consent_key()
        self.hub.consent.get(key, functools.partial(service.require_preview, self.hub.factory, key[1]), fresh=fresh)

    async def _ensure_audio_consent(self) -> None:
        """Raise ConsentNotGranted if the audible stems lost their grant (a thread hop only when not cached;
        sessions asking about the same stems at the same moment share one query)."""
        key = self._consent_key()
        hit, _ = self.hub.consent.cached(key)
        if not hit:
            await self.hub.shared_check(key, self._check_audio_consent)

    def _revoke(self, exc: RemixError) -> None:
        if self.revoked:
            return
        self.revoked = True
        self.playing = False
        self.level = 0.0
        self.outbox.drop_media()
        self.outbox.reply({**exc.facts, "type": "error", "id": None, "error": type(exc).__name__,
                           "detail": f"{exc.detail}; rendering has stopped"})
        self.outbox.reply(self.state_message())

    def _visuals_off(self, exc: RemixError) -> None:
        if not self.visuals_on:
            return
        self.visuals_on = False
        self.visuals_reason = _visuals_off_reason(exc)
        # The visuals module's own words (model and grant ids, for support) go beside the fan's.
        self.outbox.reply({"type": "notice", "notice": "VisualsStopped", "detail": self.visuals_reason,
                           "model_id": self.model_id, "cause": exc.detail})

    async def _consent_watch(self) -> None:
        """Re-ask consent while rendering (answers are shared across sessions for the recheck interval)."""
        interval = self.hub.config.consent_recheck_seconds
        while True:
            await self.hub.consent_news(interval)  # the interval, or sooner when consent changed anywhere
            if self._unsaved:
                self.save()
            await self._watch_artwork()
            if self.revoked:
                await self._watch_release()
                continue
            try:
                await self._ensure_audio_consent()
            except RemixError as exc:
                self._revoke(exc)
                continue
            if self.visuals_on and self.model_id is not None:
                model_id = self.model_id
                try:
                    key = ("model", self.user_id, model_id)
                    if not self.hub.models.cached(key)[0]:
                        await asyncio.to_thread(
                            self.hub.models.get, key,
                            functools.partial(service.authorize_model, self.hub.factory, self.user_id, model_id))
                except RemixError as exc:
                    self._visuals_off(exc)

    async def _watch_release(self) -> None:
        """A revoked session whose stems are covered again (the artist granted anew) tells the fan at once: the
        page says the track is back and that Play continues it, instead of "stopped" until the fan tries."""
        try:
            await self._ensure_audio_consent()
        except RemixError:
            return
        self.revoked = False
        self.outbox.reply({"type": "notice", "notice": "Released",
                           "detail": "the artist has released this track again; press Play to continue"})
        self.outbox.reply(self.state_message())

    async def _withheld_artwork(self) -> tuple[int, ...]:
        """The album's artwork fans may not see now; one query per recheck interval for every session on the album."""
        key = ("artwork", self.ctx.album_id)
        hit, withheld = self.hub.consent.cached(key)
        if hit:
            return tuple(withheld)
        load = functools.partial(service.withheld_artwork, self.hub.factory, self.ctx.album_id)

        def ask() -> None:
            self.hub.consent.get(key, load)

        await self.hub.shared_check(key, ask)
        hit, withheld = self.hub.consent.cached(key)
        if not hit:  # expired while the query ran (a very short recheck interval): ask once more, alone
            withheld = await asyncio.to_thread(self.hub.consent.get, key, load)
        return tuple(withheld)

    async def _watch_artwork(self) -> None:
        """Artwork whose grant was revoked (or granted again) while the fan's page shows it: the page is told at
        once, so it drops (or shows again) the picture instead of keeping it on screen until a reload."""
        withheld = await self._withheld_artwork()
        if withheld != self.artwork_withheld:
            self.artwork_withheld = withheld
            self.outbox.reply({"type": "notice", "notice": "ArtworkWithheld", "asset_ids": list(withheld),
                               "detail": "the artist has withdrawn this artwork"})

    # ------------------------------------------------------------------------------------------ audio

    def next_chunk(self, now: float) -> tuple[ChunkJob, int, float] | None:
        """The chunk to render now, if one is due: called by the mixer's dispatcher every tick.

        A chunk is due once the playhead is within ``LEAD_SECONDS`` of its start; at most one is in flight.
        """
        if not self.playing or self.revoked or self._chunk_in_flight:
            return None
        playhead = self.position()
        if self._render_pos < playhead:  # fell behind (mixers overloaded, or a chunk shed): skip what was missed
            self.audio_skipped_seconds += playhead - self._render_pos
            self._render_pos = playhead
        ahead = (self._render_pos - playhead) / self.tempo
        if ahead > LEAD_SECONDS:
            self.wake_at = now + ahead - LEAD_SECONDS
            return None
        window = chunk_window(self._render_pos, self.tempo, self.ctx.duration_seconds)
        if window is None:  # end of the track: loop to the start without a gap
            self._anchor_pos -= self._render_pos
            playhead -= self._render_pos
            self._render_pos = 0.0
            window = chunk_window(0.0, self.tempo, self.ctx.duration_seconds)
            if window is None:
                return None
        try:
            hit, _ = self.hub.consent.cached(self._consent_key())
        except RemixError as exc:
            self._revoke(exc)
            return None
        if not hit:  # ask in a thread; the chunk waits for the next tick
            if self._consent_refresh is None or self._consent_refresh.done():
                self._consent_refresh = self._loop.create_task(self._refresh_consent())
            return None
        sequence = self.audio_sequence
        self.audio_sequence += 1
        self._render_pos = window.start_seconds + window.length_seconds
        self._chunk_in_flight = True
        deadline = now + max(0.0, window.start_seconds - playhead) / self.tempo
        if self._starting:  # the playhead waits for this chunk, so it cannot be late; it may wait a little
            deadline += OPENING_PATIENCE_SECONDS
        job = ChunkJob(self._stem_files, self.ctx.sample_rate, self._mix_json, window.start_seconds,
                       window.length_seconds)
        return job, sequence, deadline

    async def _refresh_consent(self) -> None:
        try:
            await self._ensure_audio_consent()
        except RemixError as exc:
            self._revoke(exc)
        self.hub.mixer.wake()

    def chunk_ready(self, sequence: int, result: AudioChunk | RemixError) -> None:
        self._chunk_in_flight = False
        self.wake_at = 0.0
        if isinstance(result, RemixError):
            self._revoke(result)
            return
        if self.revoked:  # rendered before the revocation: must not play after it
            return
        if self._starting and self.playing:
            self._anchor_time, self._starting = self._loop.time(), False
        self.level = energy_to_level(result.energy)
        self.outbox.audio(pack_frame(FrameKind.audio_wav, sequence, round(result.start_seconds * 1000), result.wav))

    def chunk_shed(self, sequence: int) -> None:
        self._chunk_in_flight = False
        self.wake_at = 0.0
        self.audio_shed += 1
        if self._starting:  # the playhead waits for the opening chunk: ask for it again
            self._render_pos = self._anchor_pos

    # ------------------------------------------------------------------------------------------ visuals

    async def _set_prompt_embedding(self, prompt: str) -> None:
        embedding = await asyncio.to_thread(embed_prompt, self.pipeline, prompt)
        self.blend.set_target(embedding)
        self._frame_wanted.set()

    def frame_request(self) -> FrameRequest:
        """The next frame: blended prompt, previous frame, strength from the music's loudness right now."""
        config = self.hub.config
        strength = strength_for_energy(self.level)
        if self.blend.blending:  # a new prompt needs a little more freedom to show through
            strength = min(1.0, strength + 0.15)
        request = FrameRequest(embedding=self.blend.next(), init=self._prev_pixels,
                               init_latents=self._prev_latents, strength=strength,
                               seed=(self.spec.seed * 1_000_003 + self._frame_index) % (2**63),
                               steps=config.frame_steps, output_size=config.frame_size)
        self._frame_index += 1
        return request

    async def _visual_loop(self) -> None:
        min_interval = 1.0 / self.hub.config.max_fps
        while True:
            await self._frame_wanted.wait()
            self._frame_wanted.clear()
            if not self.visuals_on or self.revoked or self.blend.current is None:
                continue
            if not (self.playing or self.blend.blending or self._prev_pixels is None):
                continue
            if self.hub.scheduler.busy(self.session_id):
                continue  # the delivery of the frame in flight asks again
            wait = self._last_submit + min_interval - self._loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_submit = self._loop.time()
            assert self.model_id is not None
            self.hub.scheduler.submit(self.session_id, self.model_id, self.frame_request())

    def _frame_failed(self) -> None:
        # Ask again after a pause: a transient failure (a worker that died, memory) heals, and a
        # persistent one is retried once a second rather than at the frame rate.
        self._loop.call_later(FRAME_RETRY_SECONDS, self._frame_wanted.set)

    async def _deliver_frame(self, result: FrameResult) -> None:
        if self.revoked or not self.visuals_on:
            return
        self._prev_pixels, self._prev_latents = result.pixels, result.latents
        sequence = self.image_sequence
        self.image_sequence += 1
        self.outbox.image(pack_frame(FrameKind.image_jpeg, sequence, round(self.position() * 1000), result.jpeg))
        self._frame_wanted.set()


def _visuals_off_reason(exc: RemixError) -> str:
    """Why the visuals are off, in a fan's words: the visuals module's refusals name model and grant ids."""
    if isinstance(exc, ConsentNotGranted):
        return "visuals are off: the artist no longer allows these visuals"
    if isinstance(exc, Conflict | NotFound):  # withdrawn or rejected: fans may not even see that it exists
        return "visuals are off: the artist has withdrawn these visuals"
    return f"visuals are off: {exc.detail}"


def _canonical(mix: dict[str, Any]) -> str:
    return json.dumps(mix, sort_keys=True, separators=(",", ":"))


def fresh_state(user_id: int, track_id: int) -> SavedSession:
    return SavedSession(session_id=new_session_id(), user_id=user_id, track_id=track_id)

