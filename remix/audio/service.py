"""Rendering rules: fit the spec to the track, decide the licence, check consent, render, encode, record.

:func:`render_excerpt` is the one entry point for every render — HTTP preview and clip today, the live
websocket session and paid extended renders later — so all of them apply the same checks and produce
the same audio for the same spec.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from remix.audio import engine, licence
from remix.audio.decode import DEFAULT_CACHE_BYTES, Audio, StemCache, StemDecodeError, process_cache
from remix.audio.encode import (
    CLIP_BITRATE_KBPS,
    MEDIA_TYPES,
    PREVIEW_BITRATE_KBPS,
    AudioFormat,
    EncodeError,
    encode,
    encode_mp3_blocks,
)
from remix.audio.errors import EncoderUnavailable, RemixSpecRejected
from remix.audio.filters import max_cutoff_hz
from remix.audio.licence import RenderUse
from remix.audio.schemas import RenderLimits, StemOut, TrackStemsOut
from remix.audio.spec import RemixSpec
from remix.audit import service as audit
from remix.auth.models import User
from remix.catalog import repository
from remix.catalog.consent import check_use, require_use
from remix.catalog.models import Asset, Scope, Track
from remix.catalog.storage import AssetStore
from remix.config import Settings
from remix.errors import InvalidMedia, NotFound
from remix.provenance import audio_watermark, render_paths
from remix.provenance.media import AudioFormat as StampedFormat

AUDIO_SCOPES = (Scope.remix_preview, Scope.download_clip, Scope.sell_extended)
# A window may end this much past the recorded length: frame counts round to the nearest sample.
WINDOW_END_TOLERANCE_SECONDS = 0.001


@dataclass(frozen=True)
class RenderedExcerpt:
    """Encoded audio and the facts provenance needs about how it was made."""

    content: bytes
    format: AudioFormat
    media_type: str
    filename: str
    spec_hash: str
    output_seconds: float
    sample_rate: int
    scope: Scope
    stem_asset_ids: list[int]
    grant_ids: list[int] = field(default_factory=list)
    audio_sha256: str = ""  # the engine's unstamped PCM: the same spec always gives the same hash
    render_id: str | None = None  # the provenance record of a stamped clip (previews are not stamped)


def stem_cache(settings: Settings) -> StemCache:
    # ``audio_cache_bytes`` is read if the deployment's Settings define it; otherwise 512 MiB.
    return process_cache(int(getattr(settings, "audio_cache_bytes", DEFAULT_CACHE_BYTES)))


def track_stems(session: Session, track_id: int) -> tuple[Track, list[Asset]]:
    track = repository.get_or_404(session, Track, track_id)
    stems = [s for s in track.stems if s.stem_name]
    return track, stems


def track_duration(stems: Sequence[Asset]) -> float:
    return max((s.duration_seconds or 0.0) for s in stems) if stems else 0.0


def describe_stems(session: Session, track_id: int) -> TrackStemsOut:
    """A track's stems with their facts and which audio uses their artist currently allows."""
    track, stems = track_stems(session, track_id)
    allowed = {scope: check_use(session, scope, [s.id for s in stems]) for scope in AUDIO_SCOPES}
    return TrackStemsOut(
        track_id=track.id,
        title=track.title,
        duration_seconds=track_duration(stems),
        limits=RenderLimits(preview_max_seconds=licence.PREVIEW_MAX_SECONDS,
                            free_clip_max_seconds=licence.FREE_CLIP_MAX_SECONDS),
        stems=[
            StemOut(asset_id=s.id, name=s.stem_name or "", media_type=s.media_type, sha256=s.sha256,
                    size_bytes=s.size_bytes, sample_rate=s.sample_rate, channels=s.channels,
                    duration_seconds=s.duration_seconds,
                    allowed={scope: s.id not in decision.uncovered for scope, decision in allowed.items()})
            for s in stems
        ],
    )


def fit_spec_to_track(track: Track, stems: Sequence[Asset], spec: RemixSpec) -> list[Asset]:
    """Refuse what the track cannot render (naming the field); return the stems that will be heard."""
    if not stems:
        raise NotFound(f"track {track.id} has no stems yet; its artist uploads them first")
    by_name = {s.stem_name: s for s in stems if s.stem_name}
    unknown = sorted(set(spec.stems) - set(by_name))
    if unknown:
        raise RemixSpecRejected(
            f"stems.{unknown[0]}: track {track.id} has no stem named '{unknown[0]}'; "
            f"its stems are: {', '.join(sorted(by_name))}"
        )
    audible = [by_name[name] for name in spec.audible_stems(by_name)]
    if not audible:
        raise RemixSpecRejected("stems: every stem is muted (a muted stem stays silent even when soloed); "
                                "nothing would be heard")
    duration = track_duration(stems)
    start, end = spec.window.start_seconds, spec.window.start_seconds + spec.window.length_seconds
    if start >= duration:
        raise RemixSpecRejected(
            f"window.start_seconds: {start:g} s is past the end of the track ({duration:.3f} s long)"
        )
    if end > duration + WINDOW_END_TOLERANCE_SECONDS:
        raise RemixSpecRejected(
            f"window.length_seconds: the window ends at {end:.3f} s but the track is {duration:.3f} s long; "
            f"at most {duration - start:.3f} s fit after start_seconds={start:g}"
        )
    rate = render_sample_rate(audible)
    if spec.filter.cutoff_hz is not None and spec.filter.cutoff_hz > max_cutoff_hz(rate):
        raise RemixSpecRejected(
            f"filter.cutoff_hz: {spec.filter.cutoff_hz:g} Hz is too close to the Nyquist frequency of this "
            f"track's {rate} Hz audio; use at most {max_cutoff_hz(rate):g} Hz"
        )
    return audible


def render_sample_rate(stems: Sequence[Asset]) -> int:
    """The rate most audible stems have (ties: the higher); the others are resampled to it."""
    counts = Counter(s.sample_rate or 44_100 for s in stems)
    return max(counts, key=lambda rate: (counts[rate], rate))


def require_watermarkable_length(spec: RemixSpec, sample_rate: int) -> None:
    """Refuse a clip too short to carry its provenance watermark, from the spec alone (before anything renders).

    The length that counts is the engine's: the frames it will render (each loop repeats the excerpt rounded to
    whole frames, so a window of exactly 0.256 s × tempo ÷ loops can fall a few frames short).
    """
    # round(): 0.256 × rate in floating point may land a hair above a whole number of frames.
    needed = math.ceil(round(audio_watermark.MIN_SECONDS * sample_rate, 6))
    frames = engine.output_frames(spec, sample_rate)
    if frames >= needed:
        return
    # The shortest window that renders enough frames at this tempo and loop count (frames grow with the window).
    loops = spec.window.loops
    window = max(1, math.floor((needed / loops - 1) * spec.tempo))
    while round(window / spec.tempo) * loops < needed:
        window += 1
    shortest = math.ceil(window / sample_rate * 100_000) / 100_000  # rounded up: 10 µs is under a frame
    raise RemixSpecRejected(
        f"window.length_seconds: the clip would last {frames / sample_rate:.5f} s, {frames} frames at {sample_rate} Hz "
        f"({length_explained(spec)}); a downloaded clip must last at least {audio_watermark.MIN_SECONDS:.3f} s to "
        f"carry its provenance watermark: use a window of at least {shortest:.5f} s"
    )


def length_explained(spec: RemixSpec) -> str:
    loops = spec.window.loops
    return (f"{spec.window.length_seconds:g} s window at tempo {spec.tempo:g}"
            f"{f' × {loops} loops' if loops > 1 else ''}")


def decode_stems(settings: Settings, stems: Sequence[Asset], sample_rate: int) -> dict[str, Audio]:
    cache = stem_cache(settings)
    store = AssetStore(settings.asset_dir)
    decoded: dict[str, Audio] = {}
    for stem in stems:
        try:
            decoded[stem.stem_name or ""] = cache.get(stem.sha256, store.path_for(stem.storage_key), sample_rate)
        except StemDecodeError as exc:
            raise InvalidMedia(
                f"stems.{stem.stem_name}: the stored file of stem '{stem.stem_name}' (asset {stem.id}) cannot be "
                f"decoded ({exc}); its artist needs to upload it again"
            ) from exc
    return decoded


def render_mp3(stems: dict[str, Audio], spec: RemixSpec, sample_rate: int, bitrate_kbps: int) -> tuple[Audio, bytes]:
    """The engine's audio and its unstamped MP3, encoded block by block while the render goes on (the same
    bytes as encoding the finished audio)."""
    kept: list[Audio] = []
    content = encode_mp3_blocks(_keeping(engine.render_blocks(stems, spec, sample_rate), kept), sample_rate,
                                bitrate_kbps=bitrate_kbps)
    return _joined(kept), content


def _keeping(blocks: Iterator[Audio], kept: list[Audio]) -> Iterator[Audio]:
    """Pass the blocks on, keeping each (the unstamped audio is hashed for the response header)."""
    for block in blocks:
        kept.append(block)
        yield block


def _joined(blocks: list[Audio]) -> Audio:
    if not blocks:  # a window that rounds to no frames at this tempo renders nothing (as engine.render does)
        return np.zeros((0, 2), dtype=np.float32)
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def download_filename(track: Track, spec_hash: str, fmt: AudioFormat, *, preview: bool = False) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", track.title.lower()).strip("-")[:80] or f"track-{track.id}"
    return f"{slug}-{'preview' if preview else 'remix'}-{spec_hash[:8]}.{fmt.value}"


def render_excerpt(session: Session, settings: Settings, user: User, track_id: int, spec: RemixSpec,
                   use: RenderUse, fmt: AudioFormat) -> RenderedExcerpt:
    """Render ``spec`` of ``track_id`` for ``use`` as ``fmt``, after the licence and consent checks.

    Refusals: :class:`~remix.errors.NotFound` (track or stems), :class:`RemixSpecRejected` (spec does not
    fit the track or the use), :class:`~remix.audio.licence.LicenceRequired` (over 30 s, nothing bought),
    :class:`~remix.errors.ConsentNotGranted` (no live grant of the needed scope on an audible stem),
    :class:`~remix.errors.InvalidMedia` (a stored stem no longer decodes). Clips are audited; preview
    chunks, which a live session asks for many times a minute, are not.
    """
    track, stems = track_stems(session, track_id)
    audible = fit_spec_to_track(track, stems, spec)
    sample_rate = render_sample_rate(audible)
    if use == RenderUse.clip:  # every downloaded clip is watermarked
        require_watermarkable_length(spec, sample_rate)
    spec_hash = spec.spec_hash
    decision = licence.licence_for(session, user, track.id, spec_hash, use, spec.output_seconds,
                                   length_explained(spec))
    asset_ids = [s.id for s in audible]
    consent = require_use(session, decision.scope, asset_ids)

    decoded = decode_stems(settings, audible, sample_rate)
    bitrate = PREVIEW_BITRATE_KBPS.get(fmt) if use == RenderUse.preview else None

    def encoded(samples: Audio) -> bytes:
        try:
            return encode(samples, sample_rate, fmt, seed=spec.seed, bitrate_kbps=bitrate)
        except EncodeError as exc:
            raise EncoderUnavailable(f"could not encode {fmt.value}: {exc}") from exc

    def encoded_mp3_blocks(blocks: Iterator[Audio]) -> bytes:
        return encode_mp3_blocks(blocks, sample_rate, bitrate_kbps=bitrate or CLIP_BITRATE_KBPS[AudioFormat.mp3])

    # MP3 is streamed: LAME encodes each block on the second core while the engine renders (and, for a clip,
    # the watermark marks) the next. WAV (its dither draws depend on the whole length) and Opus (ffmpeg) take
    # the finished audio.
    kept: list[Audio] = []
    render_id = None
    output_format: StampedFormat = fmt.value
    if use == RenderUse.clip:
        # Every downloaded clip carries its own watermark id and signed manifest (remix/provenance).
        if fmt == AudioFormat.mp3:
            stamped = render_paths.stamp_clip_stream(
                session, settings, user_id=user.id, track_id=track.id, album_id=track.album_id, spec_hash=spec_hash,
                scope=decision.scope, grant_ids=consent.grant_ids, sample_rate=sample_rate, output_format=output_format,
                blocks=_keeping(engine.render_blocks(decoded, spec, sample_rate), kept), encoder=encoded_mp3_blocks)
            audio = _joined(kept)
        else:
            audio = engine.render(decoded, spec, sample_rate)
            stamped = render_paths.stamp_clip(
                session, settings, user_id=user.id, track_id=track.id, album_id=track.album_id, spec_hash=spec_hash,
                scope=decision.scope, grant_ids=consent.grant_ids, sample_rate=sample_rate, output_format=output_format,
                audio=audio, encoder=encoded)
        content, render_id = stamped.data, stamped.render.public_id
    elif fmt == AudioFormat.mp3:
        audio, content = render_mp3(decoded, spec, sample_rate, bitrate or CLIP_BITRATE_KBPS[AudioFormat.mp3])
    else:
        audio = engine.render(decoded, spec, sample_rate)
        content = encoded(audio)

    rendered = RenderedExcerpt(
        content=content, format=fmt, media_type=MEDIA_TYPES[fmt],
        filename=download_filename(track, spec_hash, fmt, preview=use == RenderUse.preview),
        spec_hash=spec_hash, output_seconds=audio.shape[0] / sample_rate, sample_rate=sample_rate,
        scope=decision.scope, stem_asset_ids=asset_ids, grant_ids=consent.grant_ids,
        audio_sha256=render_paths.pcm_sha256(audio), render_id=render_id,
    )
    if use == RenderUse.clip:
        audit.record(session, "remix.clip_rendered", "track", track.id, actor_user_id=user.id,
                     scope=decision.scope.value, spec_hash=spec_hash, spec=spec.canonical(),
                     stem_asset_ids=asset_ids, grant_ids=consent.grant_ids, format=fmt.value,
                     output_seconds=round(rendered.output_seconds, 3), render_id=render_id,
                     audio_sha256=rendered.audio_sha256, content_sha256=hashlib.sha256(content).hexdigest())
    return rendered
