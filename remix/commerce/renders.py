"""The long licensed render of a paid order: started after the payment commits, cached under data_dir/renders.

The licensed version is the order's own RemixSpec rendered by the audio engine at full length, so the
paid file agrees with the preview and the free clip the fan heard (same spec, same seed, same audio).
The cached WAV is the engine's unstamped render; each download is stamped afresh (:func:`stamped_download`)
with its own watermark id and a C2PA manifest citing the order's licence and grants.

In production mode (``REMIX_REDIS_URL``) the render runs on a `remix worker` (remix.scale.order_renders) and
the API process only serves the file; the embedded default renders in a thread of the API process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import soundfile
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from remix.audio import engine
from remix.audio.encode import AudioFormat, encode, encode_wav
from remix.audio.service import decode_stems, fit_spec_to_track, render_sample_rate
from remix.audio.spec import RemixSpec
from remix.catalog.models import Asset, Track
from remix.commerce.models import Order
from remix.config import Settings
from remix.errors import Conflict, RemixError
from remix.provenance import render_paths
from remix.provenance.service import StampedOutput

logger = logging.getLogger(__name__)

# Production mode: how long a download waits for a worker's render before answering "try again".
WORKER_RENDER_WAIT_S = 20.0

# One worker: renders are CPU-heavy and the service shares its machine with the API.
_jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="licensed-render")
# The background job and an impatient download may ask for the same render: one renders, the other waits.
_rendering = threading.Lock()


class RenderFailed(RemixError):
    """The licensed version could not be rendered; try the download again later."""

    status_code = 503


def render_path(settings: Settings, order: Order) -> Path:
    return settings.data_dir / "renders" / f"{order.public_id}.wav"


def render_licensed_version(settings: Settings, order: Order, track: Track, stems: list[Asset]) -> Path:
    """Render (once) the order's long version to a WAV file and return its path."""
    target = render_path(settings, order)
    if target.exists():
        return target
    with _rendering:
        if target.exists():
            return target
        return _render(settings, target, order, track, stems)


def _render(settings: Settings, target: Path, order: Order, track: Track, stems: list[Asset]) -> Path:
    if not stems:
        raise Conflict("the track has no stems to render")
    spec = RemixSpec.model_validate_json(order.spec_json)
    try:
        audible = fit_spec_to_track(track, stems, spec)
        sample_rate = render_sample_rate(audible)
        audio = engine.render(decode_stems(settings, audible, sample_rate), spec, sample_rate)
        content = encode(audio, sample_rate, AudioFormat.wav, seed=spec.seed)
    except RemixError as exc:
        raise RenderFailed(f"rendering failed: {exc.detail}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}-{threading.get_ident()}.partial.wav")
    partial.write_bytes(content)
    partial.replace(target)  # atomic: a reader never sees half a file
    return target


def _rendered_by_workers(settings: Settings, order: Order) -> Path:
    """Production mode: the workers' render of ``order``, asked for again if missing (the request after the
    payment may have been lost with Redis; a worker skips an order already rendered), waited for a while."""
    from remix.scale.order_renders import enqueue_order_render

    target = render_path(settings, order)
    if target.exists():
        return target
    assert settings.redis_url
    try:
        enqueue_order_render(settings.redis_url, order.public_id)
    except RedisError as exc:
        raise RenderFailed("the render queue is unavailable; try the download again shortly") from exc
    deadline = time.monotonic() + WORKER_RENDER_WAIT_S
    while time.monotonic() < deadline:
        if target.exists():
            return target
        time.sleep(0.1)
    raise RenderFailed(f"order {order.public_id} is still being rendered; try the download again in a minute")


def stamped_download(session: Session, settings: Settings, order: Order, track: Track) -> StampedOutput:
    """One download of the licensed version: the cached render, watermarked and signed for this download."""
    if settings.redis_url:  # production mode: `remix worker` processes render, this process serves
        path = _rendered_by_workers(settings, order)
    else:
        path = render_licensed_version(settings, order, track, list(track.stems))
    audio, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    seed = RemixSpec.model_validate_json(order.spec_json).seed
    return render_paths.stamp_paid_render(
        session, settings, order=order, album_id=track.album_id, audio=audio, sample_rate=int(sample_rate),
        encoder=lambda marked: encode_wav(marked, int(sample_rate), seed=seed))


def render_after_commit(session: Session, settings: Settings, order: Order, track: Track) -> None:
    """Queue the render once the payment's transaction commits (never for a transaction that rolls back)."""
    stems = list(track.stems)

    def start(_: Session) -> None:
        # A failed background render is not lost: the download renders on demand and reports the error.
        if settings.redis_url:  # production mode: a `remix worker` renders it (see remix.scale.order_renders)
            from remix.scale.order_renders import enqueue_order_render

            try:
                enqueue_order_render(settings.redis_url, order.public_id)
            except RedisError:  # the payment has committed; the first download asks the workers again
                logger.warning("order %s: render not queued (Redis unavailable)", order.public_id, exc_info=True)
            return
        _jobs.submit(render_licensed_version, settings, order, track, stems)

    event.listen(session, "after_commit", start, once=True)
