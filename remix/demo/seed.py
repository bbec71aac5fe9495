"""Loads the demo album into the database through the same services (and upload checks) artists use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from remix.auth import repository as users
from remix.auth import service as accounts
from remix.auth.models import Role, User
from remix.catalog import repository as catalog
from remix.catalog import service
from remix.catalog.models import Scope
from remix.config import Settings
from remix.demo.media import DemoAlbumMedia
from remix.errors import RemixError
from remix.visuals import service as visuals


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    role: Role
    display_name: str


# Demo-only credentials, printed at start; `remix demo` refuses to run in production.
DEMO_ACCOUNTS = (
    DemoAccount("fan@remix.test", "fan-demo-password", Role.fan, "Fiona Fan"),
    DemoAccount("artist@remix.test", "artist-demo-password", Role.artist, "Leipzig Consort (manager)"),
    DemoAccount("finance@remix.test", "finance-demo-password", Role.finance, "Frank Finance"),
    DemoAccount("admin@remix.test", "admin-demo-password", Role.admin, "Ada Admin"),
)


# The demo's visual model, trained by `remix train` on the demo artwork and shipped with its manifest.
DEMO_VISUAL_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "demo-artwork-v1"


@dataclass(frozen=True)
class SeededDemo:
    album_id: int
    created: bool
    visual_model: str = "not loaded"


def _account(session: Session, spec: DemoAccount, artist_ids: list[int], actor: int | None) -> User:
    existing = users.user_by_email(session, spec.email)
    if existing is not None:
        return existing
    return accounts.create_user(session, email=spec.email, display_name=spec.display_name, password=spec.password,
                                role=spec.role, artist_ids=artist_ids, actor_user_id=actor)


def seed_demo(session: Session, settings: Settings, media: DemoAlbumMedia) -> SeededDemo:
    """Create demo accounts, the artist, album, tracks, stems, artwork and all four grants (idempotent)."""
    admin = _account(session, DEMO_ACCOUNTS[3], [], None)
    existing = catalog.artist_by_name(session, media.artist_name)
    if existing is not None:
        albums = catalog.list_albums(session, existing.id)
        for spec in DEMO_ACCOUNTS[:3]:
            _account(session, spec, [existing.id] if spec.role == Role.artist else [], admin.id)
        return SeededDemo(album_id=albums[0].id, created=False)

    artist = service.create_artist(session, admin, media.artist_name,
                                   "A fictional ensemble performing public-domain Bach chorales.")
    manager = _account(session, DEMO_ACCOUNTS[1], [artist.id], admin.id)
    for spec in (DEMO_ACCOUNTS[0], DEMO_ACCOUNTS[2]):
        _account(session, spec, [], admin.id)
    album = service.create_album(session, manager, artist.id, media.album_title, media.year)
    for art in media.artwork:
        with art.path.open("rb") as stream:
            upload = service.Upload(stream=stream, filename=art.path.name, content_type=None)
            service.upload_artwork(session, settings, manager, album.id, upload, art.title, art.caption)
    for demo_track in media.tracks:
        track = service.create_track(session, manager, album.id, demo_track.title, demo_track.position,
                                     demo_track.bpm, demo_track.musical_key)
        for stem in demo_track.stems:
            with stem.path.open("rb") as stream:
                upload = service.Upload(stream=stream, filename=stem.path.name, content_type=None)
                service.upload_stem(session, settings, manager, track.id, upload, stem.name)
    for scope in Scope:
        service.grant_consent(session, manager, scope, asset_id=None, album_id=album.id, expires_at=None,
                              terms="Demo album: all uses granted by the artist's manager.")
    return SeededDemo(album_id=album.id, created=True,
                      visual_model=_load_demo_visual_model(session, settings, manager, album.id))


def _load_demo_visual_model(session: Session, settings: Settings, manager: User, album_id: int) -> str:
    """Register the shipped demo model and approve it as the artist would after seeing its samples.

    The import checks that the manifest's artwork hashes match this album's artwork under live
    ``train_visual`` grants; if they do not (e.g. another Pillow encoded the PNGs differently), the demo
    runs without visuals until ``remix train`` makes a model here.
    """
    if not (DEMO_VISUAL_MODEL_DIR / "manifest.json").exists():
        return "not shipped"
    try:
        model = visuals.import_trained_model(session, settings, manager, album_id, DEMO_VISUAL_MODEL_DIR)
        visuals.approve(session, manager, model.id)
    except RemixError as exc:
        return f"not loaded ({exc.detail}); run `remix train --album-id {album_id}`"
    return f"model {model.id} live (manifest {(model.manifest_hash or '')[:12]})"
