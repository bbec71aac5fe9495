"""Every audio render path stamps its output, and verify finds the render again — also after re-encoding,
after tampering, and after the grants it relied on are revoked."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
from typing import Any

import numpy as np
import soundfile

from remix.audio.decode import process_cache
from remix.provenance.media import encode_audio
from tests.commerce.conftest import Shop, deliver, payment_succeeded
from tests.conftest import World
from tests.provenance.client import verify

RATE = 44_100  # the catalog track's stems


def clip(world: World, track_id: int, spec: dict[str, Any], fmt: str) -> Any:
    response = world.client.post(f"/api/tracks/{track_id}/clip", params={"format": fmt}, json=spec,
                                 headers=world.headers("fan"))
    assert response.status_code == 200, response.text
    return response


def decoded(data: bytes) -> np.ndarray:
    """What a copy made by any player looks like: the audio alone, no container metadata."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "-", "-f", "f32le", "-ac", "2", "-ar", "44100",
                          "-"], input=data, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.float32).reshape(-1, 2)


def data_chunk_offset(wav: bytes) -> int:
    """Where the samples of a RIFF/WAVE file start (walking the chunks: a manifest chunk may come first)."""
    position = 12
    while position + 8 <= len(wav):
        size = int.from_bytes(wav[position + 4:position + 8], "little")
        if wav[position:position + 4] == b"data":
            return position + 8
        position += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def test_free_clip_is_stamped_and_its_copies_are_traced(world: World, catalog_track: tuple[int, list[int]]) -> None:
    track_id, grant_ids = catalog_track
    # The whole 20 s track: two watermark packets, so the re-encoded copy below is traced every time (one
    # packet alone loses about one id in 30 after re-encoding; README, watermark robustness).
    spec = {"window": {"start_seconds": 0.0, "length_seconds": 20.0}, "stems": {"bass": {"gain_db": 2}}}
    response = clip(world, track_id, spec, "mp3")
    render_id, spec_hash = response.headers["x-remix-render-id"], response.headers["x-remix-spec-sha256"]

    report = verify(world, response.content, "clip.mp3").json()
    assert report["verdict"] == "licensed_render" and report["manifest"]["state"] == "trusted"
    assert report["watermark"]["names_a_render"] is True
    render = report["render"]
    assert render["render_id"] == render_id and render["purpose"] == "clip" and render["exact_file"] is True
    assert render["user_id"] == world.user_ids["fan"] and render["track_id"] == track_id
    assert render["spec_hash"] == spec_hash and render["grant_ids"] == grant_ids and render["licence_id"] is None

    # A copy re-encoded at 128 kbit/s has lost the manifest; the watermark still names the fan's render.
    copy = encode_audio(decoded(response.content), 44_100, "mp3", "128k")
    traced = verify(world, copy, "copy.mp3").json()
    assert traced["verdict"] == "licensed_render" and traced["manifest"]["state"] == "absent"
    assert traced["render"]["render_id"] == render_id and traced["render"]["exact_file"] is False

    # Changing the audio of the signed file (here: 0.2 s of silence at 8 s) breaks the manifest's binding.
    wav = clip(world, track_id, spec, "wav").content
    start = data_chunk_offset(wav) + 8 * 44_100 * 4
    tampered = bytearray(wav)
    tampered[start:start + int(0.2 * 44_100) * 4] = bytes(int(0.2 * 44_100) * 4)
    report = verify(world, bytes(tampered), "clip.wav").json()
    assert report["verdict"] == "tampered" and report["manifest"]["state"] == "tampered"
    assert report["takedown_eligible"] is True and report["evidence"]["manifest"]["state"] == "tampered"


def test_a_clip_too_short_to_carry_a_watermark_is_refused_before_it_renders(
        world: World, catalog_track: tuple[int, list[int]]) -> None:
    """The watermark needs 0.256 s of audio: 11 290 frames at 44.1 kHz, counted as the engine renders them (each
    loop repeats the excerpt rounded to whole frames). A shorter clip is refused from its spec, before any stem is
    decoded, naming the field and the window that would work; that window renders, stamped, at every tempo."""
    track_id, _ = catalog_track
    needed = math.ceil(0.256 * RATE)
    too_short = [  # (tempo, loops, window seconds): the frames each renders
        (1.0, 1, 11_289 / RATE),  # 11 289: one frame short
        (2.0, 1, 22_578 / RATE),  # 11 289
        (1.0, 4, 0.064),  # nominally 0.256 s, but 4 × round(2822.4) = 11 288 frames
        (2.0, 4, 0.128),  # nominally 0.256 s, but 4 × round(round(5644.8) / 2) = 11 288 frames
    ]
    for tempo, loops, seconds in too_short:
        spec: dict[str, Any] = {"window": {"start_seconds": 1.0, "length_seconds": seconds, "loops": loops},
                                "tempo": tempo}
        suggested = None
        for fmt in ("mp3", "wav"):
            process_cache().clear()
            response = world.client.post(f"/api/tracks/{track_id}/clip", params={"format": fmt}, json=spec,
                                         headers=world.headers("fan"))
            assert response.status_code == 422, (tempo, loops, fmt, response.text)
            detail = response.json()["detail"]
            assert response.json()["error"] == "RemixSpecRejected" and detail.startswith("window.length_seconds")
            assert "at least 0.256 s" in detail
            assert len(process_cache()) == 0, f"{fmt} at tempo {tempo} × {loops}: stems were decoded to render it"
            found = re.search(r"use a window of at least ([0-9.]+) s", detail)
            assert found, detail
            suggested = float(found.group(1))

        # The window the refusal names is the shortest that works: it renders, stamped, in both formats ...
        assert suggested is not None
        spec["window"]["length_seconds"] = suggested
        wav = clip(world, track_id, spec, "wav")
        frames = soundfile.info(io.BytesIO(wav.content)).frames
        assert needed <= frames <= needed + loops, (tempo, loops, frames)
        for fmt, response in (("wav", wav), ("mp3", clip(world, track_id, spec, "mp3"))):
            answer = verify(world, response.content, f"clip.{fmt}")
            assert answer.status_code == 200, (fmt, answer.text)
            report = answer.json()
            assert report["verdict"] == "licensed_render", (fmt, report)
            assert report["render"]["render_id"] == response.headers["x-remix-render-id"]
        # ... and one frame less is refused.
        spec["window"]["length_seconds"] = suggested - 1 / RATE
        response = world.client.post(f"/api/tracks/{track_id}/clip", params={"format": "mp3"}, json=spec,
                                     headers=world.headers("fan"))
        assert response.status_code == 422, response.text


def test_opus_clip_sidecar_is_served_to_its_fan_and_checked(world: World,
                                                             catalog_track: tuple[int, list[int]]) -> None:
    track_id, _ = catalog_track
    # The whole 20 s track: two watermark packets (8.4 s each). One packet alone, after Opus, loses about one
    # id in 30 (README, watermark robustness), which would make the watermark-only check below flaky.
    response = clip(world, track_id, {"window": {"start_seconds": 0.0, "length_seconds": 20.0}}, "opus")
    sidecar_url = response.headers["x-remix-provenance-sidecar"]
    assert world.client.get(sidecar_url, headers=world.headers("beta")).status_code == 404  # someone else's
    sidecar = world.client.get(sidecar_url, headers=world.headers("fan"))
    assert sidecar.status_code == 200, sidecar.text
    report = verify(world, response.content, "clip.opus", sidecar=sidecar.content).json()
    assert report["manifest"] == {"kind": "sidecar", "state": "trusted", "problems": []}
    assert report["verdict"] == "licensed_render"
    assert report["render"]["render_id"] == response.headers["x-remix-render-id"]
    # Without the sidecar, the watermark alone still names the render.
    alone = verify(world, response.content, "clip.opus").json()
    assert alone["verdict"] == "licensed_render" and alone["manifest"]["state"] == "absent"
    # A sidecar signed for this file does not vouch for another one.
    other = clip(world, track_id, {"window": {"start_seconds": 0.0, "length_seconds": 10.0}}, "opus")
    assert verify(world, other.content, "o.opus", sidecar=sidecar.content).json()["verdict"] == "tampered"


def test_revoked_grant_leaves_issued_clips_licensed_at_the_time(world: World,
                                                                catalog_track: tuple[int, list[int]]) -> None:
    track_id, grant_ids = catalog_track
    spec = {"window": {"start_seconds": 4.0, "length_seconds": 10.0}}
    issued = clip(world, track_id, spec, "mp3")
    revoked = world.client.post(f"/api/consent/grants/{grant_ids[0]}/revoke", headers=world.headers("alpha"),
                                json={"reason": "no more free clips"})
    assert revoked.status_code == 200, revoked.text
    refused = world.client.post(f"/api/tracks/{track_id}/clip", json=spec, headers=world.headers("fan"))
    assert refused.status_code == 403  # no new clip once the grant is gone

    report = verify(world, issued.content, "clip.mp3").json()
    assert report["verdict"] == "licensed_render" and report["consent"] == "revoked_since_render"
    assert "licensed at render time; consent since revoked" in report["summary"]
    assert report["takedown_eligible"] is True  # a free clip's licence was the grant itself
    public = verify(world, issued.content, "clip.mp3", who=None, public=True).json()
    assert public["verdict"] == "licensed_render" and public["consent"] == "revoked_since_render"
    assert public["licensed"] is False


def test_each_paid_download_is_stamped_with_the_licence(shop: Shop) -> None:
    c = shop.client
    placed = shop.order()["order"]
    assert deliver(c, payment_succeeded(placed["payment_intent_id"], 999, "EUR")).json()["status"] == "processed"
    order = c.get(f"/api/orders/{placed['public_id']}", headers=shop.h("fan")).json()
    assert order["status"] == "paid"

    def download() -> Any:
        url = c.post(f"/api/orders/{placed['public_id']}/download-url", headers=shop.h("fan")).json()["url"]
        response = c.get(url)
        assert response.status_code == 200, response.text
        return response

    first, second = download(), download()
    assert first.headers["x-remix-render-id"] != second.headers["x-remix-render-id"]
    report = verify(shop.world, first.content, "paid.wav").json()
    assert report["verdict"] == "licensed_render" and report["manifest"]["state"] == "trusted"
    render = report["render"]
    assert render["render_id"] == first.headers["x-remix-render-id"] and render["purpose"] == "paid_render"
    assert render["licence_id"] is not None and render["grant_ids"] == [shop.grant_id]
    assert render["user_id"] == shop.world.user_ids["fan"] and render["track_id"] == shop.track_id

    # Revoking sell_extended closes downloads, but the copy already sold stays licensed for its term.
    r = c.post(f"/api/consent/grants/{shop.grant_id}/revoke", json={"reason": "label dispute"},
               headers=shop.h("alpha"))
    assert r.status_code == 200, r.text
    url = c.post(f"/api/orders/{placed['public_id']}/download-url", headers=shop.h("fan"))
    assert url.status_code in (403, 409)
    after = verify(shop.world, first.content, "paid.wav").json()
    assert after["verdict"] == "licensed_render" and after["consent"] == "revoked_since_render"
    assert after["takedown_eligible"] is False
    assert verify(shop.world, first.content, "paid.wav", who=None, public=True).json()["licensed"] is True
    stored = json.loads(json.dumps(after))  # the report is plain JSON a rights team can file
    assert stored["render"]["licence_id"] == render["licence_id"]
