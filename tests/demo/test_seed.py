from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from remix.config import Settings
from remix.demo.media import DemoAlbumMedia
from remix.demo.seed import DEMO_ACCOUNTS, seed_demo
from tests.conftest import login

pytestmark = pytest.mark.slow


def test_demo_album_is_loaded_through_the_upload_path_with_all_grants(
    client: TestClient, settings: Settings, demo_media: DemoAlbumMedia
) -> None:
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    # The test settings keep upload limits small; the demo's minute-long stems need the real ones.
    settings = settings.model_copy(update={"max_audio_bytes": Settings().max_audio_bytes})
    with factory.begin() as session:
        first = seed_demo(session, settings, demo_media)
    with factory.begin() as session:
        again = seed_demo(session, settings, demo_media)
    assert first.created and not again.created and again.album_id == first.album_id

    fan = {"Authorization": f"Bearer {login(client, 'fan@remix.test', 'fan-demo-password')}"}
    album = client.get(f"/api/albums/{first.album_id}", headers=fan).json()
    assert album["artist"]["name"] == "The Leipzig Consort"
    assert len(album["tracks"]) == 3 and len(album["artwork"]) == 3
    track = client.get(f"/api/tracks/{album['tracks'][0]['id']}", headers=fan).json()
    assert sorted(s["stem_name"] for s in track["stems"]) == ["alto", "bass", "soprano", "tenor"]
    assert all(s["sample_rate"] == 44100 and s["duration_seconds"] >= 45 for s in track["stems"])
    # Cover art is released to fans (album-wide remix_preview grant) and decodes as the image it claims.
    art = client.get(f"/api/assets/{album['artwork'][0]['id']}/file", headers=fan)
    assert art.status_code == 200 and art.headers["content-type"] == album["artwork"][0]["media_type"]

    artist = {"Authorization": f"Bearer {login(client, 'artist@remix.test', 'artist-demo-password')}"}
    grants = client.get("/api/consent/grants", params={"album_id": first.album_id}, headers=artist).json()
    assert sorted(g["scope"] for g in grants if g["live"]) == [
        "download_clip", "remix_preview", "sell_extended", "train_visual"
    ]
    for account in DEMO_ACCOUNTS:
        assert login(client, account.email, account.password)
