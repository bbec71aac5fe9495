"""Preview frames and visual downloads are stamped with the model, its training manifest and the grants."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
from PIL import Image

from remix.provenance import image_watermark
from tests.conftest import World
from tests.provenance.client import verify
from tests.visuals.test_visual_models_api import grant, train, upload_artwork


def frame(world: World, model_id: int, path: str = "render", fmt: str | None = None, **body: Any) -> Any:
    response = world.client.post(f"/api/visual-models/{model_id}/{path}", params={"format": fmt} if fmt else {},
                                 json={"prompt": "ginger tabby cat", **body}, headers=world.headers("fan"))
    assert response.status_code == 200, response.text
    return response


def jpeg(data: bytes, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def test_preview_frames_and_downloads_name_model_manifest_and_grants(world: World) -> None:
    upload_artwork(world)
    train_grant = grant(world, "train_visual")
    model = train(world)
    approved = world.client.post(f"/api/visual-models/{model['id']}/approve", headers=world.headers("alpha"))
    assert approved.status_code == 200, approved.text
    preview_grant = grant(world, "remix_preview")

    # A small preview frame is enlarged by a whole factor so that it, too, carries the watermark.
    preview = frame(world, model["id"], size=128, seed=5)
    assert Image.open(io.BytesIO(preview.content)).size == (256, 256)
    assert preview.headers["content-disposition"].startswith("inline;")
    report = verify(world, preview.content, "frame.png").json()
    assert report["verdict"] == "licensed_render" and report["manifest"]["state"] == "trusted"
    render = report["render"]
    assert render["render_id"] == preview.headers["x-remix-render-id"] and render["purpose"] == "preview_frame"
    assert render["model_id"] == model["id"] and render["training_manifest_hash"] == model["manifest_hash"]
    assert render["grant_ids"] == sorted({train_grant, preview_grant}) and render["user_id"] == world.user_ids["fan"]

    download = frame(world, model["id"], "download", "jpeg", seed=5)
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-remix-frame-sha256"] == frame(world, model["id"], "download", seed=5).headers[
        "x-remix-frame-sha256"]
    report = verify(world, download.content, "visual.jpg").json()
    assert report["verdict"] == "licensed_render" and report["render"]["purpose"] == "visual"
    assert report["manifest"]["state"] == "trusted"

    # Re-saved at JPEG quality 75 (what a messenger does): no manifest, but the watermark names the download.
    copy = verify(world, jpeg(download.content, 75), "copy.jpg").json()
    assert copy["verdict"] == "licensed_render" and copy["manifest"]["state"] == "absent"
    assert copy["render"]["render_id"] == download.headers["x-remix-render-id"]

    # The artist withdraws previews: new frames stop, frames already out stay licensed-at-the-time.
    r = world.client.post(f"/api/consent/grants/{preview_grant}/revoke", json={"reason": "album pulled"},
                          headers=world.headers("alpha"))
    assert r.status_code == 200, r.text
    refused = world.client.post(f"/api/visual-models/{model['id']}/download", json={"prompt": "cat"},
                                headers=world.headers("fan"))
    assert refused.status_code == 403
    after = verify(world, download.content, "visual.jpg").json()
    assert after["verdict"] == "licensed_render" and after["consent"] == "revoked_since_render"
    assert after["takedown_eligible"] is True


def test_forged_truncated_and_foreign_images(world: World) -> None:
    photo = np.asarray(Image.new("RGB", (320, 320), (90, 120, 150)), dtype=np.uint8)
    rng = np.random.default_rng(3)
    textured = np.clip(photo.astype(np.int16) + rng.integers(-40, 40, photo.shape), 0, 255).astype(np.uint8)
    forged = io.BytesIO()
    Image.fromarray(image_watermark.embed(textured, 0x0BADF00D)).save(forged, format="PNG")
    report = verify(world, forged.getvalue(), "forged.png").json()
    assert report["verdict"] == "forged_watermark" and report["watermark"]["watermark_id"] == 0x0BADF00D
    assert report["takedown_eligible"] is True and report["evidence"]["watermark"]["names_a_render"] is False

    truncated = forged.getvalue()[: len(forged.getvalue()) // 2]
    response = verify(world, truncated, "half.png")
    assert response.status_code == 422 and response.json()["error"] == "InvalidMedia"
    assert verify(world, b"%PDF-1.7 not media", "doc.pdf").json()["error"] == "UnsupportedMedia"

    # A few hundred bytes that claim 40 000 × 40 000 pixels: refused before anything is decoded.
    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(bytes(512)))
    response = verify(world, bomb + png_chunk(b"IEND", b""), "bomb.png")
    assert response.status_code == 422 and "pixels" in response.json()["detail"]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
