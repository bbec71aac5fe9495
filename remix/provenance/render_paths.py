"""The stamping hooks each render path calls: free clips, paid renders, visual downloads and preview frames.

Each hook gathers the facts a render's manifest cites (fan, licence, consent grants, model and its training
manifest hash, RemixSpec hash), then lets :mod:`remix.provenance.service` watermark the output, sign its
manifest and write its :class:`~remix.provenance.models.Render` row in the caller's transaction, so an
output and its record are issued together or not at all.

What stays deterministic: the engines' *unstamped* output. The same RemixSpec gives the same PCM (the
audio engine's promise) and the same prompt, seed and model give the same frame; the ``X-Remix-Audio-Sha256``
and ``X-Remix-Frame-Sha256`` response headers carry its hash. The stamped file a fan receives is unique to
its render: it carries that render's 32-bit watermark id and a manifest naming that render.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from remix.catalog.consent import check_use
from remix.catalog.models import Scope
from remix.commerce.models import License, Order
from remix.config import Settings
from remix.provenance.media import AudioFormat, ImageFormat
from remix.provenance.service import (
    AudioBlockEncoder,
    AudioEncoder,
    RenderFacts,
    StampedOutput,
    stamp_audio_render,
    stamp_audio_stream,
    stamp_image,
)
from remix.visuals.models import VisualModel

# Frames smaller than this are upscaled (nearest neighbour, an exact integer factor) before stamping:
# the image watermark needs 256 pixels a side, and a fan's 128-pixel preview is otherwise unmarked.
MIN_STAMPED_SIDE = 256


def pcm_sha256(audio: npt.NDArray[np.floating]) -> str:
    """The hash of the engine's unstamped output (float32, little-endian, interleaved): same spec, same hash."""
    return hashlib.sha256(np.ascontiguousarray(audio, dtype="<f4").tobytes()).hexdigest()


def licence_for(session: Session, user_id: int, track_id: int, spec_hash: str) -> License | None:
    """The newest licence this fan bought for this exact spec, if any."""
    return session.execute(
        select(License).where(License.user_id == user_id, License.track_id == track_id, License.spec_hash == spec_hash)
        .order_by(License.id.desc()).limit(1)
    ).scalar_one_or_none()


def stamp_clip(session: Session, settings: Settings, *, user_id: int, track_id: int, album_id: int | None,
               spec_hash: str, scope: Scope, grant_ids: Sequence[int], audio: npt.NDArray[np.floating],
               sample_rate: int, output_format: AudioFormat, encoder: AudioEncoder) -> StampedOutput:
    """Stamp a clip from ``POST /api/tracks/{id}/clip``.

    A free clip (``download_clip``) carries no licence; a longer render a fan bought (``sell_extended``,
    checked against the entitlement before rendering) carries the licence sold for that spec. The audio service
    has refused, before rendering, a clip too short to carry the watermark (``require_watermarkable_length``).
    """
    facts = _clip_facts(session, user_id=user_id, track_id=track_id, album_id=album_id, spec_hash=spec_hash,
                        scope=scope, grant_ids=grant_ids)
    return stamp_audio_render(session, settings, audio=audio, sample_rate=sample_rate, facts=facts,
                              output_format=output_format, encoder=encoder)


def stamp_clip_stream(session: Session, settings: Settings, *, user_id: int, track_id: int, album_id: int | None,
                      spec_hash: str, scope: Scope, grant_ids: Sequence[int],
                      blocks: Iterable[npt.NDArray[np.floating]], sample_rate: int, output_format: AudioFormat,
                      encoder: AudioBlockEncoder) -> StampedOutput:
    """:func:`stamp_clip` for a clip that arrives block by block: watermarked and encoded as it comes (the same
    watermark samples as stamping the finished clip)."""
    facts = _clip_facts(session, user_id=user_id, track_id=track_id, album_id=album_id, spec_hash=spec_hash,
                        scope=scope, grant_ids=grant_ids)
    return stamp_audio_stream(session, settings, blocks=blocks, sample_rate=sample_rate, facts=facts,
                              output_format=output_format, encoder=encoder)


def _clip_facts(session: Session, *, user_id: int, track_id: int, album_id: int | None, spec_hash: str, scope: Scope,
                grant_ids: Sequence[int]) -> RenderFacts:
    licence = licence_for(session, user_id, track_id, spec_hash) if scope == Scope.sell_extended else None
    return RenderFacts(purpose="paid_render" if scope == Scope.sell_extended else "clip", user_id=user_id,
                       track_id=track_id, album_id=album_id, spec_hash=spec_hash, grant_ids=tuple(grant_ids),
                       licence_id=licence.id if licence else None)


def stamp_paid_render(session: Session, settings: Settings, *, order: Order, album_id: int | None,
                      audio: npt.NDArray[np.floating], sample_rate: int, encoder: AudioEncoder) -> StampedOutput:
    """Stamp one download of a paid order's licensed long version (WAV), citing its licence and its grants."""
    licence = session.execute(select(License).where(License.order_id == order.id)).scalar_one_or_none()
    grant_ids = tuple(int(g) for g in json.loads(licence.consent_grant_ids)) if licence else ()
    facts = RenderFacts(purpose="paid_render", user_id=order.user_id, track_id=order.track_id, album_id=album_id,
                        spec_hash=order.spec_hash, grant_ids=grant_ids, licence_id=licence.id if licence else None)
    return stamp_audio_render(session, settings, audio=audio, sample_rate=sample_rate, facts=facts,
                              output_format="wav", encoder=encoder)


def visual_grant_ids(session: Session, model: VisualModel) -> list[int]:
    """The training grants the model was made under plus the preview grants that let a fan see its output."""
    preview = check_use(session, Scope.remix_preview, [s.asset_id for s in model.sources])
    return sorted({*model.grant_ids, *preview.grant_ids})


def stamp_frame(session: Session, settings: Settings, *, user_id: int, model: VisualModel, frame_png: bytes,
                purpose: str, output_format: ImageFormat = "png") -> StampedOutput:
    """Stamp a frame a visual model rendered: a preview frame (``preview_frame``) or a download (``visual``).

    The fan's frame is returned at its rendered size, except that frames smaller than 256 pixels a side are
    enlarged by a whole factor first, so every frame can carry the watermark.
    """
    with Image.open(io.BytesIO(frame_png)) as opened:
        image = opened.convert("RGB")
    factor = -(-MIN_STAMPED_SIDE // min(image.size))
    if factor > 1:
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    facts = RenderFacts(purpose=purpose, user_id=user_id, album_id=model.album_id, model_id=model.id,
                        training_manifest_hash=model.manifest_hash, grant_ids=tuple(visual_grant_ids(session, model)))
    return stamp_image(session, settings, image=image, facts=facts, output_format=output_format)
