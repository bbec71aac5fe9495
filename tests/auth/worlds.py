"""A world shared by a whole test module, for tables of cheap cases that only add rows (the access matrix).

It holds the same accounts as ``tests.conftest.world`` (admin, fan, finance, alpha, beta; two artists
each with an album and a track), built the same way, plus alpha's artwork and stem.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from remix.app import create_app
from remix.auth import passwords
from remix.auth import service as accounts
from remix.auth.models import Role
from remix.catalog import service as catalog
from remix.config import Settings
from tests.catalog import samples
from tests.catalog.uploads import post_artwork, post_stem
from tests.conftest import PASSWORD, World, login, truncate_all
from tests.password_hashing import CHEAP_HASHER


@dataclass
class SharedWorld:
    world: World
    settings: Settings
    artwork_id: int
    stem_id: int


def build_world(client: TestClient) -> World:
    """The accounts and catalog of ``tests.conftest.world``; the client keeps no login cookie."""
    w = World(client=client)
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory.begin() as session:
        admin = accounts.create_user(session, email="admin@test.example", display_name="Admin",
                                     password=PASSWORD, role=Role.admin)
        for key, name in (("alpha", "Alpha Band"), ("beta", "Beta Choir")):
            artist = catalog.create_artist(session, admin, name, "")
            w.artist_ids[key] = artist.id
            album = catalog.create_album(session, admin, artist.id, f"{name} LP", 2026)
            w.album_ids[key] = album.id
            track = catalog.create_track(session, admin, album.id, f"{name} Song", 1, 96.0, "C major")
            w.track_ids[key] = track.id
        w.user_ids["admin"] = admin.id
        specs = {
            "fan": (Role.fan, []),
            "finance": (Role.finance, []),
            "alpha": (Role.artist, [w.artist_ids["alpha"]]),
            "beta": (Role.artist, [w.artist_ids["beta"]]),
        }
        for key, (role, artist_ids) in specs.items():
            user = accounts.create_user(session, email=f"{key}@test.example", display_name=key,
                                        password=PASSWORD, role=role, artist_ids=artist_ids)
            w.user_ids[key] = user.id
    for key in ("admin", "fan", "finance", "alpha", "beta"):
        w.tokens[key] = login(client, f"{key}@test.example")
    client.cookies.clear()  # login set a cookie; requests without a bearer token must be anonymous
    return w


def shared_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 sqlite_template: Path) -> Iterator[SharedWorld]:
    """Body of a module-scoped fixture parametrized over the backends (see test_authorization.py)."""
    root = tmp_path_factory.mktemp("shared-world")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, root / "remix.db")
        url = f"sqlite:///{root / 'remix.db'}"
    else:
        url = request.getfixturevalue("postgres_migrated")
        truncate_all(url)
    settings = Settings(environment="test", database_url=url, data_dir=root / "data", migrate_on_start=False,
                        max_image_bytes=2 * 1024 * 1024, max_audio_bytes=4 * 1024 * 1024)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", CHEAP_HASHER)
        with TestClient(create_app(settings)) as client:
            world = build_world(client)
            artwork = post_artwork(world, "alpha", world.album_ids["alpha"], samples.photo("chelsea", "JPEG"),
                                   "chelsea.jpg")
            stem = post_stem(world, "alpha", world.track_ids["alpha"], samples.stem("FLAC"), "drums", "drums.flac")
            assert artwork.status_code == stem.status_code == 201, (artwork.text, stem.text)
            yield SharedWorld(world, settings, artwork.json()["id"], stem.json()["id"])
