from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from remix.audit.models import AuditEvent
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
        events_before = session.scalar(select(func.count()).select_from(AuditEvent))
        again = seed_demo(session, settings, demo_media)
    with factory.begin() as session:
        # Re-seeding changes nothing: every change (payee, split sheet, price, upload, grant) is audited.
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events_before
    assert first.created and not again.created and again.album_id == first.album_id
    assert first.tracks_for_sale == again.tracks_for_sale == 3

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


def test_every_demo_track_is_for_sale_under_an_approved_split_sheet_paying_the_seeded_payees(
    client: TestClient, settings: Settings, demo_media: DemoAlbumMedia
) -> None:
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    settings = settings.model_copy(update={"max_audio_bytes": Settings().max_audio_bytes})
    for _ in range(2):  # the second run must leave the first run's sheets and prices as they are
        with factory.begin() as session:
            seeded = seed_demo(session, settings, demo_media)

    finance = {"Authorization": f"Bearer {login(client, 'finance@remix.test', 'finance-demo-password')}"}
    fan = {"Authorization": f"Bearer {login(client, 'fan@remix.test', 'fan-demo-password')}"}
    payees = {p["name"]: p for p in client.get("/api/finance/payees", headers=finance).json()}
    assert set(payees) == {"The Leipzig Consort", "Consort Classics (label)", "Remix (platform)"}
    assert payees["The Leipzig Consort"]["artist_id"] is not None  # the artist's account reads its statements
    tracks = client.get(f"/api/albums/{seeded.album_id}", headers=fan).json()["tracks"]
    for track in tracks:
        sheets = client.get(f"/api/tracks/{track['id']}/split-sheets", headers=finance).json()
        assert [(s["version"], s["status"]) for s in sheets] == [(1, "approved")], track["title"]
        lines = {(line["payee_name"], line["role"]): line["basis_points"] for line in sheets[0]["lines"]}
        # Bach's chorales are public domain: performers, label and platform share it all, no songwriter.
        assert lines == {("The Leipzig Consort", "artist"): 6000, ("Consort Classics (label)", "label"): 2500,
                         ("Remix (platform)", "platform"): 1500}
        assert sheets[0]["accepted_at"] and sheets[0]["approved_at"]
        products = client.get(f"/api/tracks/{track['id']}/products", headers=fan).json()
        assert [(p["product"], p["price_minor"], p["currency"], p["active"]) for p in products] == [
            ("full_length", 499, "EUR", True)]
    assert client.get("/api/finance/split-sheets", headers=finance).json() == []  # nothing left waiting
