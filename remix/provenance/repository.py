"""SQL for provenance records and catalog fingerprints."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from remix.catalog.models import Asset, AssetKind, ConsentGrant, Track
from remix.provenance.fingerprint import Fingerprint
from remix.provenance.models import CatalogFingerprint, Render, RenderKind


def watermark_id_taken(session: Session, watermark_id: int) -> bool:
    return session.execute(select(Render.id).where(Render.watermark_id == watermark_id)).first() is not None


def render_by_watermark(session: Session, watermark_id: int) -> Render | None:
    return session.execute(select(Render).where(Render.watermark_id == watermark_id)).scalar_one_or_none()


def render_by_public_id(session: Session, public_id: str) -> Render | None:
    return session.execute(select(Render).where(Render.public_id == public_id)).scalar_one_or_none()


def image_render_sizes(session: Session, limit: int = 8) -> list[tuple[int, int]]:
    rows = session.execute(
        select(Render.width, Render.height).where(Render.kind == RenderKind.image, Render.width.is_not(None))
        .distinct().limit(limit)
    ).all()
    return [(int(w), int(h)) for w, h in rows if w and h]


def grants(session: Session, grant_ids: Sequence[int]) -> list[ConsentGrant]:
    if not grant_ids:
        return []
    return list(session.execute(select(ConsentGrant).where(ConsentGrant.id.in_(grant_ids))
                                .order_by(ConsentGrant.id)).scalars())


def tracks_with_stems(session: Session, track_ids: Sequence[int] | None) -> list[tuple[Track, list[Asset]]]:
    query = select(Track).order_by(Track.id)
    if track_ids is not None:
        query = query.where(Track.id.in_(track_ids))
    out: list[tuple[Track, list[Asset]]] = []
    for track in session.execute(query).scalars():
        stems = list(session.execute(select(Asset).where(Asset.track_id == track.id, Asset.kind == AssetKind.stem)
                                     .order_by(Asset.id)).scalars())
        out.append((track, stems))
    return out


def fingerprint_for_track(session: Session, track_id: int) -> CatalogFingerprint | None:
    return session.execute(select(CatalogFingerprint).where(CatalogFingerprint.track_id == track_id)
                           ).scalar_one_or_none()


def catalog_fingerprints(session: Session) -> dict[int, Fingerprint]:
    rows = session.execute(select(CatalogFingerprint.track_id, CatalogFingerprint.fingerprint_json)).all()
    return {int(track_id): np.asarray(json.loads(raw), dtype=np.int64).astype(np.uint32) for track_id, raw in rows}


def track_titles(session: Session, track_ids: Sequence[int]) -> dict[int, str]:
    if not track_ids:
        return {}
    rows = session.execute(select(Track.id, Track.title).where(Track.id.in_(track_ids))).all()
    return {int(i): str(t) for i, t in rows}
