"""The audio API end to end: real chorale stems uploaded by the artist, grants made through the API."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from remix.audio.licence import install_entitlement_check
from remix.audit.models import AuditEvent
from remix.catalog.models import Asset
from remix.catalog.storage import AssetStore
from remix.config import Settings
from tests.audio.conftest import STEM_SECONDS, StemmedTrack, grant
from tests.conftest import World

RATE = 44_100


def clip(world: World, track_id: int, spec: dict[str, object], fmt: str = "wav", who: str = "fan") -> Response:
    return world.client.post(f"/api/tracks/{track_id}/clip", params={"format": fmt}, json=spec,
                             headers=world.headers(who))


def preview(world: World, track_id: int, spec: dict[str, object], fmt: str = "opus", who: str = "fan") -> Response:
    return world.client.post(f"/api/tracks/{track_id}/preview", params={"format": fmt}, json=spec,
                             headers=world.headers(who))


def window(start: float, length: float, loops: int = 1) -> dict[str, object]:
    return {"start_seconds": start, "length_seconds": length, "loops": loops}


def seconds_of(response: Response) -> float:
    audio, rate = soundfile.read(io.BytesIO(response.content))
    return float(audio.shape[0] / rate)


def ffprobe_seconds(content: bytes, tmp_path: Path, suffix: str) -> float:
    path = tmp_path / f"decoded{suffix}"
    path.write_bytes(content)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def error_of(response: Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["detail"]


def test_fans_see_stem_facts_and_what_is_allowed(world: World, stemmed: StemmedTrack) -> None:
    grant(world, "remix_preview", album_id=stemmed.album_id)
    r = world.client.get(f"/api/tracks/{stemmed.track_id}/stems", headers=world.headers("fan"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["duration_seconds"] == pytest.approx(STEM_SECONDS)
    assert body["limits"] == {"preview_max_seconds": 10.0, "free_clip_max_seconds": 30.0}
    assert [s["name"] for s in body["stems"]] == ["soprano", "alto", "tenor", "bass"]
    first = body["stems"][0]
    assert first["sample_rate"] == RATE and first["channels"] == 2 and len(first["sha256"]) == 64
    assert first["allowed"] == {"remix_preview": True, "download_clip": False, "sell_extended": False}
    assert "storage_key" not in first and "path" not in first  # facts, never the way to the audio
    assert world.client.get("/api/tracks/999999/stems", headers=world.headers("fan")).status_code == 404

    status, kind, detail = error_of(clip(world, world.track_ids["beta"], {"window": window(0.0, 5.0)}))
    assert (status, kind) == (404, "NotFound") and "no stems" in detail


def test_clips_download_named_playable_identical_and_audited(world: World, stemmed: StemmedTrack, db: Session,
                                                             tmp_path: Path) -> None:
    grant(world, "download_clip", album_id=stemmed.album_id)
    spec = {"window": window(2.0, 8.0), "stems": {"bass": {"gain_db": 3}}, "fade_out_seconds": 1.0}
    r = clip(world, stemmed.track_id, spec)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    spec_hash = r.headers["x-remix-spec-sha256"]
    assert r.headers["content-disposition"] == f'attachment; filename="alpha-band-song-remix-{spec_hash[:8]}.wav"'
    assert seconds_of(r) == pytest.approx(8.0, abs=1 / RATE)
    audio, _ = soundfile.read(io.BytesIO(r.content))
    assert np.max(np.abs(audio)) > 0.05  # real music, not silence
    event = db.execute(select(AuditEvent).where(AuditEvent.action == "remix.clip_rendered")).scalar_one()
    assert spec_hash in event.payload and '"download_clip"' in event.payload

    # Everything at once, twice: the same audio from the engine (its hash in a header; the files differ only by
    # each download's own provenance stamp), in every format, of the length tempo gives.
    spec = {"window": window(1.0, 6.0), "tempo": 1.5, "key_shift": -3, "filter": {"kind": "lowpass", "cutoff_hz": 3000},
            "stems": {"alto": {"mute": True}, "tenor": {"pan": 0.7}}, "seed": 42}
    for fmt, content_type in (("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("opus", "audio/ogg")):
        first, second = clip(world, stemmed.track_id, spec, fmt), clip(world, stemmed.track_id, spec, fmt)
        assert first.status_code == second.status_code == 200, first.text
        assert first.headers["x-remix-audio-sha256"] == second.headers["x-remix-audio-sha256"]
        assert first.headers["x-remix-render-id"] != second.headers["x-remix-render-id"]
        assert first.content != second.content
        assert first.headers["content-type"] == content_type
        assert first.headers["content-disposition"].endswith(f'.{fmt}"')
        assert ffprobe_seconds(first.content, tmp_path, f".{fmt}") == pytest.approx(4.0, abs=0.06)


def test_free_clips_stop_at_thirty_seconds_and_longer_needs_a_purchase(world: World, stemmed: StemmedTrack) -> None:
    grant(world, "download_clip", album_id=stemmed.album_id)
    ok = clip(world, stemmed.track_id, {"window": window(0.0, 29.9 / 3, loops=3)})
    assert ok.status_code == 200, ok.text
    assert seconds_of(ok) == pytest.approx(29.9, abs=0.001)

    refused = [
        {"window": window(0.0, 30.1 / 3, loops=3)},  # loops count: 3 × 10.033 s
        {"window": window(0.0, 15.05), "tempo": 0.5},  # tempo counts: 15.05 s at half speed
    ]
    for spec in refused:
        status, kind, detail = error_of(clip(world, stemmed.track_id, spec))
        assert (status, kind) == (402, "LicenceRequired")
        assert "30 s" in detail and "30.10 s" in detail

    longer = {"window": window(0.0, 16.0, loops=2)}  # 32 s: only for someone who bought it
    previous = install_entitlement_check(lambda session, user, track_id, spec_hash: track_id == stemmed.track_id)
    try:
        refused = clip(world, stemmed.track_id, longer)
        status, kind, detail = error_of(refused)
        assert (status, kind) == (403, "ConsentNotGranted") and refused.json()["scope"] == "sell_extended"
        assert detail.startswith("the artist has not allowed selling the long version of the soprano, alto")
        grant(world, "sell_extended", album_id=stemmed.album_id)
        r = clip(world, stemmed.track_id, longer)
        assert r.status_code == 200, r.text
        assert seconds_of(r) == pytest.approx(32.0, abs=0.001)
    finally:
        install_entitlement_check(previous)
    # With the app's own (commerce) check back, nobody bought this spec: refused again.
    assert clip(world, stemmed.track_id, longer).status_code == 402


def test_consent_is_checked_per_scope_per_audible_stem_and_revocation_is_immediate(
    world: World, stemmed: StemmedTrack
) -> None:
    spec = {"window": window(0.0, 3.0)}
    soprano_only = {"window": window(0.0, 3.0), "stems": {"soprano": {"solo": True}}}
    grant(world, "remix_preview", asset_id=stemmed.stem_ids["soprano"])
    assert preview(world, stemmed.track_id, soprano_only).status_code == 200  # only audible stems need consent
    refused = preview(world, stemmed.track_id, spec)
    status, kind, detail = error_of(refused)
    assert (status, kind) == (403, "ConsentNotGranted")
    # The sentence names the stems as the fan knows them; their ids are in the body for support.
    track_title = world.client.get(f"/api/tracks/{stemmed.track_id}", headers=world.headers("fan")).json()["title"]
    assert detail == f"the artist has not allowed remixing of the alto, tenor and bass stems of “{track_title}”"
    assert refused.json()["asset_ids"] == sorted(stemmed.stem_ids[name] for name in ("alto", "tenor", "bass"))
    assert refused.json()["scope"] == "remix_preview"

    album_grant = grant(world, "remix_preview", album_id=stemmed.album_id)
    assert preview(world, stemmed.track_id, spec).status_code == 200
    refused = clip(world, stemmed.track_id, spec)  # previewing is not downloading
    status, kind, detail = error_of(refused)
    assert (status, kind) == (403, "ConsentNotGranted") and refused.json()["scope"] == "download_clip"
    assert detail.startswith("the artist has not allowed clip downloads of the soprano, alto, tenor and bass stems")

    r = world.client.post(f"/api/consent/grants/{album_grant}/revoke", json={"reason": "changed my mind"},
                          headers=world.headers("alpha"))
    assert r.status_code == 200, r.text
    status, kind, _ = error_of(preview(world, stemmed.track_id, spec))
    assert (status, kind) == (403, "ConsentNotGranted")


def test_preview_chunks_are_short_and_playable(world: World, stemmed: StemmedTrack, tmp_path: Path) -> None:
    grant(world, "remix_preview", album_id=stemmed.album_id)
    for fmt, suffix in (("opus", ".opus"), ("mp3", ".mp3")):
        r = preview(world, stemmed.track_id, {"window": window(4.0, 3.0), "key_shift": 2}, fmt)
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"].startswith("inline;")
        assert ffprobe_seconds(r.content, tmp_path, suffix) == pytest.approx(3.0, abs=0.06)
    status, kind, detail = error_of(preview(world, stemmed.track_id, {"window": window(0.0, 12.0)}))
    assert (status, kind) == (422, "RemixSpecRejected") and "10 s" in detail
    assert preview(world, stemmed.track_id, {"window": window(0.0, 3.0)}, "wav").status_code == 422


def test_a_streamed_mp3_preview_is_the_same_audio_as_the_clip(world: World, stemmed: StemmedTrack) -> None:
    # Unstamped MP3 previews are encoded block by block while the engine renders; clips are rendered whole,
    # stamped, then encoded. The engine's audio must be the same either way.
    grant(world, "remix_preview", album_id=stemmed.album_id)
    grant(world, "download_clip", album_id=stemmed.album_id)
    spec = {"window": window(1.0, 7.5), "tempo": 1.25, "key_shift": 2, "stems": {"bass": {"gain_db": 12}},
            "fade_in_seconds": 0.5, "fade_out_seconds": 1.0}
    streamed, whole = preview(world, stemmed.track_id, spec, "mp3"), clip(world, stemmed.track_id, spec, "mp3")
    assert streamed.status_code == whole.status_code == 200, streamed.text
    assert streamed.headers["x-remix-audio-sha256"] == whole.headers["x-remix-audio-sha256"]
    assert preview(world, stemmed.track_id, spec, "mp3").content == streamed.content  # same spec, same file


BAD_SPECS = [
    ({"window": window(0.0, 5.0), "tempo": 3}, "tempo"),
    ({"window": window(0.0, 5.0), "stems": {"drums": {"gain_db": 2}}}, "stems.drums"),
    ({"window": window(15.0, 5.0)}, "window.length_seconds"),
    ({"window": window(20.0, 1.0)}, "window.start_seconds"),
    ({"window": window(0.0, 5.0), "filter": {"kind": "highpass", "cutoff_hz": 20000}}, "filter.cutoff_hz"),
    ({"window": window(0.0, 5.0), "stems": {n: {"mute": True} for n in ("soprano", "alto", "tenor", "bass")}},
     "stems"),
    ({"window": window(0.0, 5.0), "speed": 2}, "speed"),
]


def test_bad_specs_and_corrupt_stems_are_refused_naming_the_field(world: World, stemmed: StemmedTrack, db: Session,
                                                                 settings: Settings) -> None:
    grant(world, "download_clip", album_id=stemmed.album_id)
    for spec, field in BAD_SPECS:
        r = clip(world, stemmed.track_id, spec)
        assert r.status_code == 422, (field, r.text)
        assert field in r.json()["detail"], field

    bass = db.get(Asset, stemmed.stem_ids["bass"])
    assert bass is not None
    AssetStore(settings.asset_dir).path_for(bass.storage_key).write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    before = sorted(p for p in settings.data_dir.rglob("*") if p.is_file())
    status, kind, detail = error_of(clip(world, stemmed.track_id, {"window": window(0.0, 5.0)}, "mp3"))
    assert (status, kind) == (422, "InvalidMedia") and "stems.bass" in detail
    assert sorted(p for p in settings.data_dir.rglob("*") if p.is_file()) == before  # no partial file
    muted = {"window": window(0.0, 5.0), "stems": {"bass": {"mute": True}}}
    assert clip(world, stemmed.track_id, muted).status_code == 200
