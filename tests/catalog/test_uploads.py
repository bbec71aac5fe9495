"""Artwork and stem uploads: real files are accepted, with the facts read from decoding them."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy.orm import Session

from remix.config import Settings
from tests.catalog import samples
from tests.catalog.uploads import post_artwork, post_stem, stored_file, trace
from tests.conftest import World


@pytest.mark.parametrize(("photo", "fmt", "filename", "media_type"), [
    ("coffee", "PNG", "coffee.png", "image/png"),
    ("astronaut", "JPEG", "astronaut.jpg", "image/jpeg"),
    ("rocket", "JPEG", "Rocket.JPEG", "image/jpeg"),
])
def test_artwork_is_stored_with_its_facts(world: World, settings: Settings, photo: str, fmt: str, filename: str,
                                          media_type: str) -> None:
    data = samples.photo(photo, fmt)
    response = post_artwork(world, "alpha", world.album_ids["alpha"], data, filename,
                            title="Front cover", caption="steaming cup, warm light")
    assert response.status_code == 201, response.text
    asset = response.json()
    width, height = samples.photo_size(photo)
    assert asset["kind"] == "artwork"
    assert (asset["width"], asset["height"]) == (width, height)
    assert asset["sha256"] == hashlib.sha256(data).hexdigest()
    assert asset["size_bytes"] == len(data)
    assert asset["media_type"] == media_type
    assert (asset["title"], asset["caption"], asset["original_filename"]) == \
        ("Front cover", "steaming cup, warm light", filename)
    assert asset["artist_id"] == world.artist_ids["alpha"]
    assert stored_file(world, settings, asset["id"]).read_bytes() == data
    assert not list((settings.asset_dir / ".staging").iterdir())

    album = world.client.get(f"/api/albums/{world.album_ids['alpha']}", headers=world.headers("fan")).json()
    assert [a["id"] for a in album["artwork"]] == [asset["id"]]


@pytest.mark.parametrize(("fmt", "filename", "content_type", "channels", "media_type"), [
    ("WAV", "drums.wav", "audio/wav", 2, "audio/wav"),
    ("WAV", "drums.WAV", "audio/x-wav", 1, "audio/wav"),
    ("FLAC", "drums.flac", "audio/flac", 2, "audio/flac"),
    ("FLAC", "drums.flac", "application/octet-stream", 1, "audio/flac"),
])
def test_stem_is_stored_with_its_facts(world: World, settings: Settings, fmt: str, filename: str,
                                       content_type: str, channels: int, media_type: str) -> None:
    data = samples.stem(fmt, channels=channels)
    response = post_stem(world, "alpha", world.track_ids["alpha"], data, "drums", filename, content_type)
    assert response.status_code == 201, response.text
    asset = response.json()
    assert asset["kind"] == "stem"
    assert (asset["stem_name"], asset["track_id"]) == ("drums", world.track_ids["alpha"])
    assert asset["sample_rate"] == samples.SAMPLE_RATE
    assert asset["channels"] == channels
    assert asset["duration_seconds"] == pytest.approx(samples.STEM_SECONDS)
    assert asset["media_type"] == media_type
    assert asset["sha256"] == hashlib.sha256(data).hexdigest()
    assert asset["size_bytes"] == len(data)
    assert stored_file(world, settings, asset["id"]).read_bytes() == data

    track = world.client.get(f"/api/tracks/{world.track_ids['alpha']}", headers=world.headers("fan")).json()
    assert [s["stem_name"] for s in track["stems"]] == ["drums"]


def test_same_bytes_uploaded_twice_share_one_file(world: World, settings: Settings) -> None:
    data = samples.photo("coffee", "PNG")
    first = post_artwork(world, "alpha", world.album_ids["alpha"], data, "coffee.png").json()
    second = post_artwork(world, "alpha", world.album_ids["alpha"], data, "coffee.png", title="Back").json()
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    assert stored_file(world, settings, first["id"]) == stored_file(world, settings, second["id"])
    assert len(trace(world, settings).files) == 1
    assert stored_file(world, settings, first["id"]).read_bytes() == data


def test_rolled_back_upload_keeps_a_file_a_committed_identical_upload_uses(world: World,
                                                                          settings: Settings) -> None:
    """Identical uploads share one file; the one that wrote it rolling back must not delete the other's bytes."""
    import io

    from remix.auth.models import User
    from remix.catalog import service
    from remix.db import ROLLBACK_HOOKS

    data = samples.photo("coffee", "PNG")
    factory = world.client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as committed, factory() as failing:
        artist = committed.get(User, world.user_ids["alpha"])
        assert artist is not None
        service.upload_artwork(committed, settings, artist, world.album_ids["alpha"],
                               service.Upload(io.BytesIO(data), "coffee.png", "image/png"), "Front", "")
        committed.commit()
        (relative,) = trace(world, settings).files
        shared = settings.asset_dir / relative
        # The race: the second upload found no file, so it wrote it and owns the rollback clean-up.
        shared.unlink()
        artist_again = failing.get(User, world.user_ids["alpha"])
        assert artist_again is not None
        service.upload_artwork(failing, settings, artist_again, world.album_ids["alpha"],
                               service.Upload(io.BytesIO(data), "coffee.png", "image/png"), "Back", "")
        failing.rollback()
        for undo in failing.info.pop(ROLLBACK_HOOKS, []):
            undo()
    assert shared.read_bytes() == data
    assert trace(world, settings).assets == 1


@pytest.mark.parametrize("sharer_ends", ["commit", "rollback"])
def test_a_rolled_back_upload_keeps_the_file_an_identical_upload_in_flight_may_use(
        world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch, sharer_ends: str) -> None:
    """Two identical uploads at once: the one that wrote the file rolls back while the other, which found the
    file there, is still in flight. The file must outlive that rollback; it goes only if the other rolls back
    too. (The other runs in a thread: on SQLite its insert waits for the first transaction to end.)"""
    import io
    import threading

    from remix.auth.models import User
    from remix.catalog import service
    from remix.catalog.storage import AssetStore
    from remix.db import ROLLBACK_HOOKS

    data = samples.photo("coffee", "PNG")
    factory = world.client.app.state.sessionmaker  # type: ignore[attr-defined]
    sharer_kept, writer_ended = threading.Event(), threading.Event()
    keep = AssetStore.keep

    def keep_and_tell(self: AssetStore, *args: Any) -> Any:
        kept = keep(self, *args)
        if threading.current_thread() is not threading.main_thread():
            sharer_kept.set()
        return kept

    monkeypatch.setattr(AssetStore, "keep", keep_and_tell)

    def upload(session: Session, title: str) -> None:
        artist = session.get(User, world.user_ids["alpha"])
        assert artist is not None
        service.upload_artwork(session, settings, artist, world.album_ids["alpha"],
                               service.Upload(io.BytesIO(data), "coffee.png", "image/png"), title, "")

    def roll_back(session: Session) -> None:
        session.rollback()
        for undo in session.info.pop(ROLLBACK_HOOKS, []):
            undo()

    def share() -> None:
        with factory() as sharer:
            upload(sharer, "Back")  # finds the file there: shares it
            assert writer_ended.wait(30)
            if sharer_ends == "commit":
                sharer.commit()
            else:
                roll_back(sharer)

    with factory() as writer:
        upload(writer, "Front")  # finds no file: writes it
        (relative,) = (f for f in trace(world, settings).files if f.parts[0] != ".claims")
        thread = threading.Thread(target=share)
        thread.start()
        assert sharer_kept.wait(30)
        roll_back(writer)
        writer_ended.set()
        thread.join(60)
    stored = settings.asset_dir / relative
    if sharer_ends == "commit":
        assert stored.read_bytes() == data
        assert trace(world, settings).assets == 1
    else:
        assert not stored.exists()  # nobody uses it: a rolled-back upload leaves nothing behind
        assert trace(world, settings).assets == 0
    assert trace(world, settings).files == ({relative} if sharer_ends == "commit" else set())
