"""Refused uploads: the exact status and error kind, and no trace at all (no row, no audit event, no file).

The cases only read the shared world (a refusal changes nothing, which is what each case checks), so
one world per backend serves them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.auth.worlds import SharedWorld, shared_world
from tests.catalog import samples
from tests.catalog.uploads import post_artwork, post_stem, stored_file, trace
from tests.conftest import BACKENDS, World


@dataclass(frozen=True)
class Kept:
    """Files already in the catalog, made of the very bytes several cases send again."""

    shared: SharedWorld
    png_artwork_id: int
    wav_stem_id: int


@pytest.fixture(scope="module", params=BACKENDS)
def kept(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         sqlite_template: Path) -> Iterator[Kept]:
    for shared in shared_world(request, tmp_path_factory, sqlite_template):
        w = shared.world
        artwork = post_artwork(w, "alpha", w.album_ids["alpha"], png(), "coffee.png")
        stem = post_stem(w, "alpha", w.track_ids["alpha"], wav(), "bass")
        assert artwork.status_code == stem.status_code == 201
        yield Kept(shared, artwork.json()["id"], stem.json()["id"])


Send = Callable[[World], httpx.Response]


def artwork(data: Callable[[], bytes], filename: str, content_type: str | None = None) -> Send:
    return lambda w: post_artwork(w, "alpha", w.album_ids["alpha"], data(), filename, content_type)


def stem(data: Callable[[], bytes], filename: str, content_type: str | None = None, name: str = "vocals") -> Send:
    return lambda w: post_stem(w, "alpha", w.track_ids["alpha"], data(), name, filename, content_type)


def png() -> bytes:
    return samples.photo("coffee", "PNG")


def jpeg() -> bytes:
    return samples.photo("coffee", "JPEG")


def wav() -> bytes:
    return samples.stem("WAV")


def flac() -> bytes:
    return samples.stem("FLAC")


TEXT = b"Remix stems, take 3. Not audio at all.\n" * 20

REFUSALS: dict[str, tuple[Send, int, str]] = {
    # The shared world's limits are 2 MiB for images and 4 MiB for audio.
    "artwork-oversized-png": (artwork(lambda: samples.photo("hubble_deep_field", "PNG", compress_level=0),
                                      "hubble.png"), 413, "PayloadTooLarge"),
    "artwork-truncated-png": (artwork(lambda: samples.truncated(png(), 0.5), "coffee.png"), 422, "InvalidMedia"),
    "artwork-png-without-end": (artwork(lambda: samples.truncated(png(), len(png()) - 12), "coffee.png"),
                                422, "InvalidMedia"),
    "artwork-png-short-one-byte": (artwork(lambda: samples.truncated(png(), len(png()) - 1), "coffee.png"),
                                   422, "InvalidMedia"),
    "artwork-truncated-jpeg": (artwork(lambda: samples.truncated(jpeg(), 0.5), "coffee.jpg"), 422, "InvalidMedia"),
    "artwork-jpeg-without-end": (artwork(lambda: samples.truncated(jpeg(), len(jpeg()) - 2), "coffee.jpg"),
                                 422, "InvalidMedia"),
    "artwork-jpeg-named-png": (artwork(jpeg, "coffee.png"), 415, "UnsupportedMedia"),
    "artwork-png-named-jpg": (artwork(png, "coffee.jpg"), 415, "UnsupportedMedia"),
    "artwork-png-sent-as-jpeg": (artwork(png, "coffee.png", "image/jpeg"), 415, "UnsupportedMedia"),
    "artwork-gif": (artwork(lambda: samples.photo("coffee", "GIF"), "coffee.gif"), 415, "UnsupportedMedia"),
    "artwork-text-named-png": (artwork(lambda: TEXT, "cover.png"), 415, "UnsupportedMedia"),
    "artwork-wav-named-png": (artwork(wav, "cover.png"), 415, "UnsupportedMedia"),
    "artwork-empty": (artwork(lambda: b"", "cover.png"), 400, "BadRequest"),
    "artwork-name-too-long": (artwork(png, "c" * 300 + ".png"), 400, "BadRequest"),
    "artwork-long-extension": (artwork(png, "cover." + "p" * 250), 415, "UnsupportedMedia"),
    "stem-oversized-wav": (stem(lambda: samples.stem("WAV", seconds=30.0), "long.wav"), 413, "PayloadTooLarge"),
    "stem-truncated-wav": (stem(lambda: samples.truncated(wav(), 0.5), "vocals.wav"), 422, "InvalidMedia"),
    "stem-wav-short-one-byte": (stem(lambda: samples.truncated(wav(), len(wav()) - 1), "vocals.wav"),
                                422, "InvalidMedia"),
    "stem-truncated-flac": (stem(lambda: samples.truncated(flac(), 0.5), "vocals.flac"), 422, "InvalidMedia"),
    "stem-flac-short-one-byte": (stem(lambda: samples.truncated(flac(), len(flac()) - 1), "vocals.flac"),
                                 422, "InvalidMedia"),
    "stem-png": (stem(png, "vocals.png"), 415, "UnsupportedMedia"),
    "stem-png-named-wav": (stem(png, "vocals.wav"), 415, "UnsupportedMedia"),
    "stem-text-named-wav": (stem(lambda: TEXT, "vocals.wav"), 415, "UnsupportedMedia"),
    "stem-mp3": (stem(lambda: samples.stem("MP3"), "vocals.mp3"), 415, "UnsupportedMedia"),
    "stem-mp3-named-wav": (stem(lambda: samples.stem("MP3"), "vocals.wav"), 415, "UnsupportedMedia"),
    "stem-ogg": (stem(lambda: samples.stem("OGG"), "vocals.ogg"), 415, "UnsupportedMedia"),
    "stem-flac-named-wav": (stem(flac, "vocals.wav"), 415, "UnsupportedMedia"),
    "stem-wav-sent-as-flac": (stem(wav, "vocals.wav", "audio/flac"), 415, "UnsupportedMedia"),
    "stem-empty": (stem(lambda: b"", "vocals.wav"), 400, "BadRequest"),
    "stem-name-of-file-too-long": (stem(wav, "v" * 300 + ".wav"), 400, "BadRequest"),
    "stem-long-extension": (stem(wav, "vocals." + "w" * 250), 415, "UnsupportedMedia"),
    "stem-duplicate-name": (stem(wav, "bass-again.wav", name="bass"), 409, "Conflict"),
    "stem-name-uppercase": (stem(wav, "vocals.wav", name="Vocals"), 400, "BadRequest"),
    "stem-name-space": (stem(wav, "vocals.wav", name="lead vocals"), 400, "BadRequest"),
    "stem-name-path": (stem(wav, "vocals.wav", name="../vocals"), 400, "BadRequest"),
    "stem-name-too-long": (stem(wav, "vocals.wav", name="v" * 33), 400, "BadRequest"),
    "stem-name-missing": (stem(wav, "vocals.wav", name=""), 422, "ValidationError"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_upload_leaves_no_trace(kept: Kept, case: str) -> None:
    world, settings = kept.shared.world, kept.shared.settings
    before = trace(world, settings)

    send, status, error = REFUSALS[case]
    response = send(world)

    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert trace(world, settings) == before
    # A refusal of bytes already stored must not take the stored file with it.
    assert stored_file(world, settings, kept.png_artwork_id).read_bytes() == png()
    assert stored_file(world, settings, kept.wav_stem_id).read_bytes() == wav()
