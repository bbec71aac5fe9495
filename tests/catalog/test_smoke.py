from __future__ import annotations

from tests.conftest import World


def test_artist_creates_album_and_grants_consent(world: World) -> None:
    c = world.client
    r = c.post(f"/api/artists/{world.artist_ids['alpha']}/albums", json={"title": "Second"},
               headers=world.headers("alpha"))
    assert r.status_code == 201, r.text
    r = c.post("/api/consent/grants", json={"scope": "remix_preview", "album_id": r.json()["id"]},
               headers=world.headers("alpha"))
    assert r.status_code == 201, r.text
    assert r.json()["live"] is True
