"""The verify endpoints on stamped outputs, catalog excerpts, forgeries, tampering and bad uploads."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from skimage import data as skimage_data

from remix.config import Settings
from remix.demo.media import DemoAlbumMedia
from remix.provenance import audio_watermark
from remix.provenance.media import encode_audio
from remix.provenance.service import RenderFacts, stamp_audio_render, stamp_image
from tests.conftest import World
from tests.provenance.client import verify
from tests.provenance.media import RATE, mix


def test_stamped_clip_verifies_and_revocation_is_reported(
    world: World, db, settings: Settings, demo_media: DemoAlbumMedia, catalog_track: tuple[int, list[int]]
) -> None:
    track_id, grant_ids = catalog_track
    excerpt = mix([s.path for s in demo_media.tracks[0].stems], start=2.0, seconds=12.0)
    facts = RenderFacts(purpose="clip", user_id=world.user_ids["fan"], track_id=track_id, spec_hash="ab" * 32,
                        grant_ids=grant_ids)
    clip = stamp_audio_render(db, settings, audio=excerpt, sample_rate=RATE, facts=facts, output_format="mp3")
    paid = stamp_audio_render(db, settings, audio=excerpt, sample_rate=RATE, output_format="wav",
                              facts=RenderFacts(**{**facts.__dict__, "purpose": "paid_render", "licence_id": 41}))
    db.commit()

    report = verify(world, clip.data, "clip.mp3").json()
    assert report["verdict"] == "licensed_render"
    assert report["manifest"]["state"] == "trusted"
    assert report["render"]["render_id"] == clip.render.public_id
    assert report["render"]["grant_ids"] == grant_ids and report["render"]["spec_hash"] == "ab" * 32
    assert report["render"]["exact_file"] is True
    assert report["catalog_matches"][0]["track_id"] == track_id
    assert report["consent"] == "current" and report["takedown_eligible"] is False

    public = verify(world, clip.data, "clip.mp3", who=None, public=True).json()
    assert public["verdict"] == "licensed_render" and public["render_id"] == clip.render.public_id
    assert "grant_ids" not in str(public) and "user_id" not in public

    revoked = world.client.post(f"/api/consent/grants/{grant_ids[0]}/revoke", headers=world.headers("alpha"),
                                json={"reason": "changed my mind"})
    assert revoked.status_code == 200, revoked.text
    after = verify(world, clip.data, "clip.mp3").json()
    assert after["consent"] == "revoked_since_render"
    assert "licensed at render time; consent since revoked" in after["summary"]
    assert after["takedown_eligible"] is True  # a free clip loses its licence with the grant
    paid_after = verify(world, paid.data, "paid.wav").json()
    assert paid_after["render"]["licence_id"] == 41
    assert paid_after["consent"] == "revoked_since_render" and paid_after["takedown_eligible"] is False

    tampered = bytearray(paid.data)
    middle = len(tampered) // 2
    tampered[middle:middle + 64] = bytes(64)
    report = verify(world, bytes(tampered), "paid.wav").json()
    assert report["verdict"] == "tampered" and report["evidence"]["manifest"]["state"] == "tampered"


def test_unstamped_catalog_excerpt_is_a_suspected_copy_with_evidence(
    world: World, demo_media: DemoAlbumMedia, catalog_track: tuple[int, list[int]]
) -> None:
    track_id, _ = catalog_track
    rip = encode_audio(mix([s.path for s in demo_media.tracks[0].stems], start=5.0, seconds=12.0), RATE, "mp3",
                       "128k")
    report = verify(world, rip, "rip.mp3").json()
    assert report["verdict"] == "suspected_unlicensed_copy"
    assert report["takedown_eligible"] is True
    evidence = report["evidence"]
    assert evidence["matched_track"]["track_id"] == track_id
    assert evidence["offset_seconds"] == pytest.approx(5.0, abs=0.5)
    assert evidence["watermark"]["found"] is False and evidence["manifest"]["state"] == "absent"
    assert evidence["file_sha256"] == report["file_sha256"] and evidence["service_version"]

    other = encode_audio(mix([s.path for s in demo_media.tracks[1].stems], start=0.0, seconds=12.0), RATE, "mp3")
    assert verify(world, other, "other.mp3").json()["verdict"] == "not_from_this_service"

    forged = encode_audio(audio_watermark.embed(mix([s.path for s in demo_media.tracks[1].stems], 0.0, 10.0),
                                                RATE, 0x1234ABCD), RATE, "wav")
    report = verify(world, forged, "forged.wav").json()
    assert report["verdict"] == "forged_watermark" and report["watermark"]["watermark_id"] == 0x1234ABCD


def test_stamped_image_verifies_and_survives_metadata_stripping(world: World, db, settings: Settings) -> None:
    photo = Image.fromarray(skimage_data.coffee()).resize((512, 384))
    stamped = stamp_image(db, settings, image=photo, output_format="png",
                          facts=RenderFacts(purpose="visual", user_id=world.user_ids["fan"], model_id=3,
                                            training_manifest_hash="cd" * 32, grant_ids=[]))
    db.commit()
    report = verify(world, stamped.data, "visual.png").json()
    assert report["verdict"] == "licensed_render" and report["manifest"]["state"] == "trusted"
    assert report["render"]["model_id"] == 3 and report["render"]["training_manifest_hash"] == "cd" * 32

    # A screenshot-like copy: re-encoded as JPEG, so the manifest is gone; the watermark still names the render.
    buffer = io.BytesIO()
    Image.open(io.BytesIO(stamped.data)).convert("RGB").save(buffer, format="JPEG", quality=80)
    copy = verify(world, buffer.getvalue(), "copy.jpg").json()
    assert copy["verdict"] == "licensed_render" and copy["manifest"]["state"] == "absent"
    assert copy["render"]["render_id"] == stamped.render.public_id and copy["render"]["exact_file"] is False

    plain = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(plain, format="PNG")
    assert verify(world, plain.getvalue(), "astronaut.png").json()["verdict"] == "not_from_this_service"


def test_opus_clip_is_checked_against_its_signed_sidecar(
    world: World, db, settings: Settings, demo_media: DemoAlbumMedia
) -> None:
    excerpt = mix([s.path for s in demo_media.tracks[2].stems], start=0.0, seconds=9.0)
    stamped = stamp_audio_render(db, settings, audio=excerpt, sample_rate=RATE, output_format="opus",
                                 facts=RenderFacts(purpose="clip", user_id=None, grant_ids=[]))
    db.commit()
    import json

    assert stamped.sidecar is not None
    sidecar = json.dumps(stamped.sidecar).encode()
    ok = verify(world, stamped.data, "clip.opus", sidecar=sidecar).json()
    assert ok["manifest"] == {"kind": "sidecar", "state": "trusted", "problems": []}
    assert ok["verdict"] == "licensed_render"
    forged = json.dumps({**stamped.sidecar, "assertions": {"org.remix.provenance": {"licence_id": 1}}}).encode()
    assert verify(world, stamped.data, "clip.opus", sidecar=forged).json()["verdict"] == "tampered"


BAD_UPLOADS = [
    (b"just some text, not media at all", 415, "UnsupportedMedia"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 422, "InvalidMedia"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 10, 422, "InvalidMedia"),
    (b"", 400, "BadRequest"),
]


def test_bad_uploads_get_typed_errors_and_full_report_needs_admin(world: World, settings: Settings) -> None:
    for payload, status, error in BAD_UPLOADS:
        response = verify(world, payload, "upload.bin")
        assert response.status_code == status, response.text
        assert response.json()["error"] == error
    huge = b"\xff\xfb" + b"\x00" * (settings.max_audio_bytes + 10)
    assert verify(world, huge, "huge.mp3").json()["error"] == "PayloadTooLarge"
    assert verify(world, b"text", "x.txt", who="finance").status_code == 403
    assert verify(world, b"text", "x.txt", who=None).status_code == 401


def test_edited_manifest_inside_a_valid_png_is_reported_as_tampered(world: World, db, settings: Settings) -> None:
    import struct
    import zlib

    photo = Image.fromarray(skimage_data.chelsea()).resize((320, 256))
    stamped = stamp_image(db, settings, image=photo, output_format="png",
                          facts=RenderFacts(purpose="visual", user_id=world.user_ids["fan"], grant_ids=[]))
    db.commit()
    png = bytearray(stamped.data)
    chunk = png.index(b"caBX") - 4  # the C2PA manifest store's PNG chunk: length, type, data, CRC
    length = struct.unpack(">I", png[chunk:chunk + 4])[0]
    licence = png.index(b"licence_id", chunk, chunk + 8 + length)
    png[licence + 11] ^= 0x01  # edit the signed assertion next to "licence_id" …
    crc = zlib.crc32(bytes(png[chunk + 4:chunk + 8 + length]))
    png[chunk + 8 + length:chunk + 12 + length] = struct.pack(">I", crc)  # … and keep the PNG itself valid
    report = verify(world, bytes(png), "edited.png").json()
    assert report["verdict"] == "tampered" and report["manifest"]["state"] == "tampered"
    assert report["manifest"]["problems"] and report["evidence"]["verdict"] == "tampered"
