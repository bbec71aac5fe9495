"""The long licensed render of a paid order: started after the payment commits, cached under data_dir/renders.

The licensed version is the order's own RemixSpec rendered by the audio engine at full length, so the
paid file agrees with the preview and the free clip the fan heard (same spec, same seed, same bytes).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from remix.audio import engine
from remix.audio.encode import AudioFormat, encode
from remix.audio.service import decode_stems, fit_spec_to_track, render_sample_rate
from remix.audio.spec import RemixSpec
from remix.catalog.models import Asset, Track
from remix.commerce.models import Order
from remix.config import Settings
from remix.errors import Conflict, RemixError

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


def render_after_commit(session: Session, settings: Settings, order: Order, track: Track) -> None:
    """Queue the render once the payment's transaction commits (never for a transaction that rolls back)."""
    stems = list(track.stems)

    def start(_: Session) -> None:
        # A failed background render is not lost: the download renders on demand and reports the error.
        _jobs.submit(render_licensed_version, settings, order, track, stems)

    event.listen(session, "after_commit", start, once=True)
