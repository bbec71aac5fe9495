"""A catalog track with real chorale stems, a free-clip grant and its fingerprint, for provenance tests."""

from __future__ import annotations

import pytest

from remix.config import Settings
from remix.demo.media import DemoAlbumMedia
from tests.catalog.uploads import post_stem
from tests.commerce.conftest import commerce_settings, localstripe, shop  # noqa: F401 — the paid-render path
from tests.conftest import World
from tests.provenance.media import stem_excerpts


@pytest.fixture
def catalog_track(world: World, demo_media: DemoAlbumMedia, settings: Settings) -> tuple[int, list[int]]:
    """Alpha's track with 20 s of the first demo chorale's stems, a download_clip grant and a fingerprint."""
    track_id = world.track_ids["alpha"]
    for name, wav in stem_excerpts(demo_media, 0):
        assert post_stem(world, "alpha", track_id, wav, name, filename=f"{name}.wav").status_code == 201
    grant = world.client.post("/api/consent/grants", headers=world.headers("alpha"),
                              json={"scope": "download_clip", "album_id": world.album_ids["alpha"]})
    assert grant.status_code == 201, grant.text
    response = world.client.post("/api/provenance/catalog-fingerprints", headers=world.headers("admin"))
    assert response.status_code == 200, response.text
    assert [r["track_id"] for r in response.json()] == [track_id]
    return track_id, [grant.json()["id"]]
