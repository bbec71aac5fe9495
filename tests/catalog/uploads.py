"""Posting artwork and stems the way the browser does (multipart form), and what an upload leaves behind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from remix.audit.models import AuditEvent
from remix.catalog.models import Asset
from remix.catalog.storage import AssetStore
from remix.config import Settings
from tests.conftest import World

CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".wav": "audio/wav",
                 ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".txt": "text/plain"}


def guess_type(filename: str) -> str:
    return CONTENT_TYPES.get(filename[filename.rfind("."):].lower(), "application/octet-stream")


def post_artwork(world: World, who: str, album_id: int, data: bytes, filename: str = "cover.png",
                 content_type: str | None = None, **form: str) -> httpx.Response:
    return world.client.post(
        f"/api/albums/{album_id}/artwork", headers=world.headers(who), data=form,
        files={"file": (filename, data, content_type or guess_type(filename))},
    )


def post_stem(world: World, who: str, track_id: int, data: bytes, stem_name: str, filename: str = "stem.wav",
              content_type: str | None = None) -> httpx.Response:
    return world.client.post(
        f"/api/tracks/{track_id}/stems", headers=world.headers(who), data={"stem_name": stem_name},
        files={"file": (filename, data, content_type or guess_type(filename))},
    )


@dataclass(frozen=True)
class Trace:
    """Everything an upload could leave behind."""

    assets: int
    audit_events: int
    files: frozenset[Path]


def trace(world: World, settings: Settings) -> Trace:
    with world.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        assets = session.execute(select(func.count()).select_from(Asset)).scalar_one()
        events = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    root = settings.asset_dir
    files = frozenset(p.relative_to(root) for p in root.rglob("*") if not p.is_dir()) if root.exists() else frozenset()
    return Trace(assets, events, files)


def stored_file(world: World, settings: Settings, asset_id: int) -> Path:
    with world.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        asset = session.get(Asset, asset_id)
        assert asset is not None
        return AssetStore(settings.asset_dir).path_for(asset.storage_key)
