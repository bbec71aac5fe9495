"""The ``lora`` base kind on a tiny random SD-style base pipeline built offline: training, adapters swapped per
artist on one shared base, deterministic text→image and image→image, live frames, and the whole HTTP path."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from remix.config import Settings
from remix.errors import BadRequest
from remix.live.visual import FrameRequest, embed_prompt, render_frames
from remix.visuals import lora
from remix.visuals import service as visuals
from remix.visuals.manifest import manifest_hash
from remix.visuals.operator_base import SETTING, BaseNotConfigured, base_identity, check_base_dir
from remix.visuals.random_pipeline import save_random_pipeline
from remix.visuals.training import TrainingExample
from tests.conftest import World
from tests.visuals.conftest import artwork_images
from tests.visuals.test_visual_models_api import grant, render, upload_artwork, wait_for_training

STEPS = 8
PROMPT = "ginger tabby cat"


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_pipeline("tiny", tmp_path_factory.mktemp("operator-base") / "tiny-sd-turbo")


@pytest.fixture
def settings(settings: Settings, tiny_base_dir: Path) -> Settings:
    """The test settings with the tiny base configured as the operator's base pipeline."""
    return settings.model_copy(update={"visual_base_dir": tiny_base_dir})


@pytest.fixture(scope="module")
def adapters(tiny_base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two artists' adapters trained on different artwork, saved as the training job saves them."""
    identity = base_identity(tiny_base_dir)
    images = artwork_images()
    saved = {}
    for artist, picks, seed in (("alpha", images[:2], 0), ("beta", images[2:], 1)):
        config = lora.LORA_PRESETS["tiny"].with_overrides(steps=STEPS, seed=seed)
        trained = lora.train_lora(identity, [TrainingExample(i, c) for i, c in picks], config)
        target = tmp_path_factory.mktemp(f"adapter-{artist}")
        lora.save_adapter(trained.weights, target, config, identity, trained.image_size)
        saved[artist] = target
    return saved


def frame(pipeline: lora.LoraArtworkPipeline, prompt: str = PROMPT, seed: int = 3, **kwargs: Any) -> bytes:
    image = pipeline(prompt, generator=torch.Generator().manual_seed(seed), num_inference_steps=2,
                     output_size=64, **kwargs).images[0]
    return image.tobytes()


def test_an_unusable_base_is_refused_naming_the_setting(tmp_path: Path, tiny_base_dir: Path) -> None:
    with pytest.raises(BaseNotConfigured, match=f"{SETTING} is not set"):
        check_base_dir(None)
    with pytest.raises(BaseNotConfigured, match=f"{SETTING}=.* is not a directory"):
        check_base_dir(tmp_path / "nowhere")
    with pytest.raises(BaseNotConfigured, match=r"model_index\.json is missing.*unet/config\.json is missing"):
        check_base_dir(tmp_path)
    # Pickled weights can run code when loaded: a base that only has .bin weights is refused.
    pickled = tmp_path / "pickled"
    for component in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        for item in (tiny_base_dir / component).iterdir():
            (pickled / component).mkdir(parents=True, exist_ok=True)
            name = item.name.replace(".safetensors", ".bin") if component == "unet" else item.name
            (pickled / component / name).write_bytes(item.read_bytes())
    (pickled / "model_index.json").write_bytes((tiny_base_dir / "model_index.json").read_bytes())
    with pytest.raises(BaseNotConfigured, match=r"unet/ has no \.safetensors weights"):
        check_base_dir(pickled)
    assert check_base_dir(tiny_base_dir) == tiny_base_dir.resolve()


def test_adapters_swap_per_artist_on_one_base_without_reloading_it(tiny_base_dir: Path,
                                                                   adapters: dict[str, Path]) -> None:
    identity = base_identity(tiny_base_dir)
    base = lora.shared_base(identity)
    unet = base.unet
    original_q = load_file(str(tiny_base_dir / "unet" / "diffusion_pytorch_model.safetensors"))
    key = next(k for k in original_q if k.endswith("attn1.to_q.weight"))
    alpha = base.pipeline(lora.load_adapter(adapters["alpha"], "test_alpha", identity))
    beta = base.pipeline(lora.load_adapter(adapters["beta"], "test_beta", identity))
    bare = base.pipeline(None)

    bare_before = frame(bare)
    alpha_first = frame(alpha)
    beta_first = frame(beta)
    alpha_again = frame(alpha)
    bare_after = frame(bare)

    assert alpha_first == alpha_again  # same prompt + seed → the same image, after swapping back
    assert alpha_first != beta_first  # each artist's adapter is applied, not the last one loaded
    assert alpha_first != bare_before  # the adapter changes what the base draws…
    assert bare_after == bare_before  # …and switching it off restores the base exactly
    assert frame(alpha, "espresso cup on a table") != alpha_first
    # One base, never reloaded or copied; both adapters stay attached to its UNet by name.
    assert lora.shared_base(identity) is base and base.unet is unet
    assert {"test_alpha", "test_beta"} <= set(base.adapter_names)
    # The adapters never touch the base's own weights.
    assert torch.equal(dict(unet.named_parameters())[key.replace(".weight", ".base_layer.weight")].detach().cpu(),
                       original_q[key])

    # image→image from the previous frame stays deterministic and moves away from it.
    previous = alpha("ginger tabby cat", generator=torch.Generator().manual_seed(3), num_inference_steps=2).images[0]
    following = frame(alpha, image=previous, strength=0.5, seed=4)
    assert following == frame(alpha, image=previous, strength=0.5, seed=4)
    assert following != previous.resize((64, 64)).tobytes()

    frame(beta)
    frame(bare)  # the layers still hold beta as their adapter while the bare base renders
    base.drop_adapter("test_beta")  # a withdrawn model's adapter leaves the base…
    assert "test_beta" not in base.adapter_names
    assert frame(alpha) == alpha_first  # …without disturbing the others


def test_concurrent_renders_for_different_artists_never_mix_adapters(tiny_base_dir: Path,
                                                                     adapters: dict[str, Path]) -> None:
    identity = base_identity(tiny_base_dir)
    base = lora.shared_base(identity)
    views = {name: base.pipeline(lora.load_adapter(path, f"concurrent_{name}", identity))
             for name, path in adapters.items()}
    expected = {name: frame(view) for name, view in views.items()}
    results: dict[str, list[bytes]] = {name: [] for name in views}

    def work(name: str) -> None:
        for _ in range(3):
            results[name].append(frame(views[name]))

    threads = [threading.Thread(target=work, args=(name,)) for name in views]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {name: [expected[name]] * 3 for name in views}


def test_live_frames_render_with_a_lora_model_through_the_same_interface(tiny_base_dir: Path,
                                                                          adapters: dict[str, Path]) -> None:
    identity = base_identity(tiny_base_dir)
    base = lora.shared_base(identity)
    alpha = base.pipeline(lora.load_adapter(adapters["alpha"], "live_alpha", identity))
    beta = base.pipeline(lora.load_adapter(adapters["beta"], "live_beta", identity))
    embedding = embed_prompt(alpha, PROMPT)
    first = FrameRequest(embedding=embedding, init=None, strength=0.5, seed=1, steps=2, output_size=64)
    alone = render_frames(alpha, [first])[0]
    following = FrameRequest(embedding=embedding, init=alone.pixels, strength=0.5, seed=2, steps=2, output_size=64)
    batched = render_frames(alpha, [following, first])
    assert batched[1].jpeg == alone.jpeg  # a frame is the same alone or batched with another fan's
    assert batched[0].jpeg != alone.jpeg
    assert alone.pixels.shape == (3, base.image_size, base.image_size)
    assert render_frames(beta, [first])[0].jpeg != alone.jpeg  # another artist's model, the same base
    assert render_frames(alpha, [first])[0].jpeg == alone.jpeg


def test_an_adapter_is_stored_alone_and_loads_only_onto_its_own_base(tiny_base_dir: Path, adapters: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    files = sorted(p.name for p in adapters["alpha"].iterdir())
    assert files == sorted(lora.ADAPTER_FILES)
    tensors = load_file(str(adapters["alpha"] / lora.ADAPTER_WEIGHTS))
    assert tensors and all(k.startswith("unet.") and ".lora_" in k for k in tensors)
    assert {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in tensors} >= {"to_q", "to_k", "to_v"}
    other = save_random_pipeline("tiny", tmp_path / "tiny-sd-turbo", seed=1)  # a different base (other weights)
    with pytest.raises(ValueError, match="trained on base 'tiny-sd-turbo'"):
        lora.load_adapter(adapters["alpha"], "elsewhere", base_identity(other))


# ---------------------------------------------------------------------------------------------- over HTTP


def train_lora_over_http(world: World, who: str, seed: int = 0) -> dict[str, Any]:
    r = world.client.post(f"/api/albums/{world.album_ids[who]}/visual-models",
                          json={"base": "lora", "preset": "tiny", "steps": 4, "seed": seed}, headers=world.headers(who))
    assert r.status_code == 202, r.text
    return wait_for_training(world, r.json()["id"], who)


def test_lora_training_is_refused_without_a_usable_base(world: World, settings: Settings, tmp_path: Path) -> None:
    upload_artwork(world)
    grant(world, "train_visual")
    app_settings: Settings = world.client.app.state.settings  # type: ignore[attr-defined]
    url = f"/api/albums/{world.album_ids['alpha']}/visual-models"
    for configured, expected in ((None, f"{SETTING} is not set"), (tmp_path, "unet/config.json is missing")):
        app_settings.visual_base_dir = configured
        r = world.client.post(url, json={"base": "lora", "preset": "tiny"}, headers=world.headers("alpha"))
        assert r.status_code == 400 and r.json()["error"] == "BaseNotConfigured", r.text
        assert expected in r.json()["detail"]
    r = world.client.get("/api/visual-models", headers=world.headers("alpha"))
    assert r.json() == []  # nothing half-written


def test_lora_models_whole_path_two_artists_one_base(world: World, tiny_base_dir: Path, tmp_path: Path) -> None:
    c = world.client
    asset_ids = upload_artwork(world)
    train_grant = grant(world, "train_visual")
    upload_artwork(world, "beta")  # the same two images: only the seed tells the adapters apart
    beta_grant = grant(world, "train_visual", "beta")
    model = train_lora_over_http(world, "alpha")
    assert model["status"] == "awaiting_approval", model
    assert model["base"] == "lora" and model["progress"] == 1.0 and model["loss"] is not None

    manifest = c.get(f"/api/visual-models/{model['id']}/manifest", headers=world.headers("alpha")).json()
    assert manifest_hash(manifest) == model["manifest_hash"]
    identity = base_identity(tiny_base_dir)
    assert manifest["base_pipeline"]["dir_name"] == "tiny-sd-turbo"
    assert manifest["base_pipeline"]["sha256"] == identity.sha256
    assert "unet/diffusion_pytorch_model.safetensors" in manifest["base_pipeline"]["files"]
    assert manifest["lora"] == {"rank": 4, "alpha": 4, "target_modules": ["to_q", "to_k", "to_v", "to_out.0"],
                                "image_size": 32, "library": "peft"}
    assert [(d["asset_id"], d["grant_id"]) for d in manifest["training_data"]] == [(a, train_grant) for a in asset_ids]
    assert sorted(manifest["checkpoint"]["files"]) == sorted(lora.ADAPTER_FILES)  # the adapter alone
    grid = c.get(f"/api/visual-models/{model['id']}/samples.png", headers=world.headers("alpha"))
    assert grid.status_code == 200 and Image.open(io.BytesIO(grid.content)).size == (2 * 192, 2 * 192)

    assert render(world, model["id"], "alpha").status_code == 409  # not approved yet
    assert c.post(f"/api/visual-models/{model['id']}/approve", headers=world.headers("alpha")).status_code == 200
    other = train_lora_over_http(world, "beta", seed=1)
    assert c.post(f"/api/visual-models/{other['id']}/approve", headers=world.headers("beta")).status_code == 200

    def frame_hash(model_id: int, who: str, **body: Any) -> str:
        # The response is stamped per render (watermark + C2PA); the header hashes the model's own frame.
        r = render(world, model_id, who, **body)
        assert r.status_code == 200, r.text
        assert Image.open(io.BytesIO(r.content)).size == (256, 256)
        digest: str = r.headers["x-remix-frame-sha256"]
        return digest

    first = frame_hash(model["id"], "alpha", seed=3)
    base = lora.shared_base(identity)
    assert frame_hash(other["id"], "beta", seed=3) != first
    assert frame_hash(model["id"], "alpha", seed=3) == first  # swapped back: the same frame
    assert frame_hash(model["id"], "alpha", seed=3, prompt="espresso cup") != first
    assert lora.shared_base(identity) is base and lora.loaded_bases() == [base]  # one base for both artists
    assert {visuals.adapter_name(model["id"]), visuals.adapter_name(other["id"])} <= set(base.adapter_names)

    # Beta revokes: their model is withdrawn and its adapter leaves the base; Alpha's renders on unchanged.
    r = c.post(f"/api/consent/grants/{beta_grant}/revoke", json={"reason": "no"}, headers=world.headers("beta"))
    assert r.status_code == 200, r.text
    assert c.get(f"/api/visual-models/{other['id']}", headers=world.headers("beta")).json()["status"] == "withdrawn"
    assert render(world, other["id"], "beta").status_code == 409
    assert visuals.adapter_name(other["id"]) not in base.adapter_names
    assert frame_hash(model["id"], "alpha", seed=3) == first

    # A LoRA trained elsewhere is imported only where its base is the configured one.
    settings: Settings = c.app.state.settings  # type: ignore[attr-defined]
    factory = c.app.state.sessionmaker  # type: ignore[attr-defined]
    source = visuals.model_dir(settings, model["id"])
    with factory.begin() as session:
        imported = visuals.import_trained_model(session, settings, None, world.album_ids["alpha"], source)
        assert (imported.base.value, imported.manifest_hash) == ("lora", model["manifest_hash"])
    settings.visual_base_dir = save_random_pipeline("tiny", tmp_path / "tiny-sd-turbo", seed=1)
    with factory.begin() as session, pytest.raises(BadRequest, match="trained on base 'tiny-sd-turbo'"):
        visuals.import_trained_model(session, settings, None, world.album_ids["alpha"], source)
