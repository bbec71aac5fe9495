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
from remix.config import Settings
from tests.catalog import samples
from tests.catalog.uploads import post_artwork, post_stem
from tests.conftest import World, build_world, truncate_all
from tests.password_hashing import CHEAP_HASHER


@dataclass
class SharedWorld:
    world: World
    settings: Settings
    artwork_id: int
    stem_id: int


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
