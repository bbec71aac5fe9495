"""The long licensed render of a paid order: started after the payment commits, cached under data_dir/renders.

TODO(audio): render the order's RemixSpec with the audio engine once it offers a full-length render
service. Until then the licensed version is the track's stems mixed unchanged at full length (ffmpeg
``amix``), which is what a fan buying the "full-length" product of an untouched spec would get.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from remix.catalog.models import Track
from remix.catalog.storage import AssetStore
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


def render_licensed_version(settings: Settings, order: Order, stem_paths: list[Path]) -> Path:
    """Render (once) the order's long version to a WAV file and return its path."""
    target = render_path(settings, order)
    if target.exists():
        return target
    with _rendering:
        if target.exists():
            return target
        return _render(target, stem_paths)


def _render(target: Path, stem_paths: list[Path]) -> Path:
    if not stem_paths:
        raise Conflict("the track has no stems to render")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RenderFailed("ffmpeg is not installed on the server")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}-{threading.get_ident()}.partial.wav")
    inputs: list[str] = []
    for path in stem_paths:
        inputs += ["-i", str(path)]
    mix = f"amix=inputs={len(stem_paths)}:duration=longest:normalize=0" if len(stem_paths) > 1 else "anull"
    command = [ffmpeg, "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex", mix,
               "-c:a", "pcm_s16le", str(partial)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RenderFailed(f"rendering failed: {result.stderr.strip()[:300]}")
    partial.replace(target)  # atomic: a reader never sees half a file
    return target


def stem_paths_of(settings: Settings, track: Track) -> list[Path]:
    store = AssetStore(settings.asset_dir)
    return [store.path_for(stem.storage_key) for stem in track.stems]


def render_after_commit(session: Session, settings: Settings, order: Order, track: Track) -> None:
    """Queue the render once the payment's transaction commits (never for a transaction that rolls back)."""
    stems = stem_paths_of(settings, track)

    def start(_: Session) -> None:
        # A failed background render is not lost: the download renders on demand and reports the error.
        _jobs.submit(render_licensed_version, settings, order, stems)

    event.listen(session, "after_commit", start, once=True)
