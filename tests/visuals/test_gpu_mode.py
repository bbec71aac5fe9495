"""GPU mode of the live renderer, checked on the CPU with tiny models: batching and bucket padding never change a
fan's frame, cached prompt embeddings render the same frames, the tiny autoencoder makes frames of the right size,
and a compiled UNet keeps static shapes (one graph per bucket, none per timestep or strength)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers.models.autoencoders.autoencoder_tiny import AutoencoderTiny
from PIL import Image

from remix.live.visual import FrameRequest, FrameResult, embed_prompt, render_frames, warm_up_buckets
from remix.scale.frames import decode_requests, decode_results, encode_requests, encode_results
from remix.visuals import gpu, lora
from remix.visuals.operator_base import base_identity
from remix.visuals.pipeline import ArtworkDiffusionPipeline, to_image
from remix.visuals.random_pipeline import save_random_pipeline
from remix.visuals.text_encoder import SentenceEncoder
from remix.visuals.training import PRESETS, untrained_pipeline

PADDED = gpu.RenderMode(buckets=(1, 4))  # 2 or 3 frames run as 4, 8 as two calls of 4
TOLERANCE = 1e-4  # float rounding of batched matrix products; one 8-bit pixel level is 0.0078


@pytest.fixture(autouse=True)
def default_mode() -> Iterator[None]:
    gpu.set_mode(gpu.RenderMode())
    yield
    gpu.set_mode(None)


@pytest.fixture(scope="module")
def builtin(encoder: SentenceEncoder) -> ArtworkDiffusionPipeline:
    return untrained_pipeline(PRESETS["tiny"], encoder)  # batching is about the arithmetic, not what was learned


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_pipeline("tiny", tmp_path_factory.mktemp("gpu-base") / "tiny-sd-turbo")


@pytest.fixture(scope="module")
def sd_view(base_dir: Path) -> lora.LoraArtworkPipeline:
    return lora.shared_base(base_identity(base_dir)).pipeline(None)  # the operator base's live path


def tiny_autoencoder(directory: Path, levels: int = 2) -> Path:
    torch.manual_seed(0)
    AutoencoderTiny(encoder_block_out_channels=(16,) * levels, decoder_block_out_channels=(16,) * levels,
                    num_encoder_blocks=(1,) * levels, num_decoder_blocks=(1,) * levels,
                    ).save_pretrained(directory, safe_serialization=True)
    return directory


def fan_requests(pipeline: ArtworkDiffusionPipeline, count: int) -> list[FrameRequest]:
    """``count`` different fans: prompts, previous frames (or none), strengths and seeds all differ."""
    prompts = ["ginger tabby cat", "espresso cup on a wooden table", "astronaut in an orange suit", ""]
    size = pipeline.codec.image_size
    generator = torch.Generator().manual_seed(99)
    requests = []
    for i in range(count):
        init = None if i % 3 == 0 else torch.rand((3, size, size), generator=generator) * 2 - 1
        requests.append(FrameRequest(embedding=embed_prompt(pipeline, prompts[i % len(prompts)]), init=init,
                                     strength=(0.3, 0.55, 0.8, 1.0)[i % 4], seed=1000 + i, steps=2, output_size=96))
    return requests


class GraphCounter:
    """A ``torch.compile`` backend that runs each graph as traced and counts how many were built (a new graph
    means a recompile, which on a GPU costs about a minute per bucket)."""

    def __init__(self) -> None:
        self.built: list[torch.fx.GraphModule] = []

    def __call__(self, graph: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> object:
        self.built.append(graph)
        return graph.forward

    def __len__(self) -> int:
        return len(self.built)


def assert_same_frame(alone: FrameResult, batched: FrameResult) -> None:
    assert (alone.pixels - batched.pixels).abs().max().item() < TOLERANCE
    # On screen: the same 8-bit image, but for a value rounding the other way at a half level now and then.
    size = alone.pixels.shape[-1]
    shown = [np.asarray(to_image(frame.pixels, size), dtype=np.int16) for frame in (alone, batched)]
    assert np.abs(shown[0] - shown[1]).max() <= 1


@pytest.mark.parametrize("kind", ["builtin", "operator base"])
def test_a_fans_frame_is_the_same_alone_or_batched_with_1_3_or_7_other_fans(kind: str,
                                                                           request: pytest.FixtureRequest) -> None:
    pipeline: ArtworkDiffusionPipeline = request.getfixturevalue("builtin" if kind == "builtin" else "sd_view")
    requests = fan_requests(pipeline, 8)
    fan = requests[1]  # image→image at strength 0.55: starts mid-schedule, after the text→image frames
    others = [r for r in requests if r is not fan]
    alone = render_frames(pipeline, [fan])[0]
    exact = render_frames(pipeline, [fan, others[0]])  # a batch of 2, unpadded
    assert_same_frame(alone, exact[0])
    assert (exact[0].pixels - exact[1].pixels).abs().mean() > 0.01  # each fan still gets their own frame
    gpu.set_mode(PADDED)
    assert_same_frame(alone, render_frames(pipeline, [others[0], fan])[1])  # 2 frames padded to 4
    assert_same_frame(alone, render_frames(pipeline, [*others[:3], fan])[3])  # 4: the bucket exactly
    assert_same_frame(alone, render_frames(pipeline, [*others[3:], fan, *others[:3]])[4])  # 8: split in 2 calls


def test_a_cached_prompt_embedding_renders_the_same_frame(builtin: ArtworkDiffusionPipeline,
                                                         encoder: SentenceEncoder) -> None:
    cache = gpu.prompt_cache(builtin.text_encoder)
    prompt = "a neon city at night seen through rain"
    misses = cache.misses
    first = embed_prompt(builtin, prompt)
    again = embed_prompt(builtin, prompt)
    assert cache.misses == misses + 1 and again is first  # encoded once
    fresh = encoder.encode([prompt])[0]
    assert torch.equal(first, fresh)
    frames = [render_frames(builtin, [FrameRequest(embedding=e, init=None, strength=0.5, seed=4, steps=2)])[0]
              for e in (first, fresh)]
    assert frames[0].jpeg == frames[1].jpeg


def test_the_prompt_cache_evicts_the_least_recently_used_prompt(encoder: SentenceEncoder) -> None:
    cache = gpu.PromptCache(size=2)
    a = cache.get(encoder, "first prompt")
    cache.get(encoder, "second prompt")
    assert cache.get(encoder, "first prompt") is a  # "first" is now the most recently used
    cache.get(encoder, "third prompt")  # evicts "second"
    assert cache.misses == 3
    cache.get(encoder, "first prompt")
    assert cache.misses == 3
    cache.get(encoder, "second prompt")
    assert cache.misses == 4


def test_the_tiny_autoencoder_renders_frames_of_the_right_size(sd_view: lora.LoraArtworkPipeline,
                                                              tmp_path: Path) -> None:
    full = render_frames(sd_view, fan_requests(sd_view, 2))
    gpu.set_mode(gpu.RenderMode(tiny_vae_dir=tiny_autoencoder(tmp_path / "taesd")))
    runtime = gpu.live_runtime(sd_view)
    assert isinstance(runtime.codec, gpu.TinyLatentCodec)
    requests = fan_requests(sd_view, 2)
    tiny = render_frames(sd_view, requests)
    size = sd_view.codec.image_size
    for frame, request in zip(tiny, requests, strict=True):
        assert frame.pixels.shape == (3, size, size)
        assert Image.open(io.BytesIO(frame.jpeg)).size == (request.output_size, request.output_size)
    assert tiny[0].jpeg != full[0].jpeg  # the tiny autoencoder really decoded them
    assert_same_frame(render_frames(sd_view, [requests[1]])[0], tiny[1])  # and batching still keeps frames apart


def test_a_tiny_autoencoder_of_the_wrong_shape_is_refused_naming_the_setting(sd_view: lora.LoraArtworkPipeline,
                                                                            tmp_path: Path) -> None:
    gpu.set_mode(gpu.RenderMode(tiny_vae_dir=tiny_autoencoder(tmp_path / "taesd", levels=3)))  # 4× not 2×
    with pytest.raises(ValueError, match=r"REMIX_VISUAL_TINY_VAE=.*latents"):
        render_frames(sd_view, fan_requests(sd_view, 1))
    (tmp_path / "empty").mkdir()
    gpu.set_mode(gpu.RenderMode(tiny_vae_dir=tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"REMIX_VISUAL_TINY_VAE=.*not an AutoencoderTiny directory"):
        render_frames(sd_view, fan_requests(sd_view, 1))


def test_asking_for_cuda_without_it_renders_on_the_cpu_in_float32() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert gpu.RenderMode(device="cuda").placement() == (torch.device("cpu"), torch.float32)
    assert gpu.RenderMode(device="auto", compile="reduce-overhead").padding_buckets == gpu.BATCH_BUCKETS
    assert gpu.RenderMode().padding_buckets is None  # uncompiled CPU rendering wastes nothing on padding


def test_a_compiled_unet_keeps_static_shapes(encoder: SentenceEncoder) -> None:
    graphs = GraphCounter()

    pipeline = untrained_pipeline(PRESETS["tiny"], encoder)  # its own: compiling changes the module in place
    requests = fan_requests(pipeline, 3)
    eager = render_frames(pipeline, requests)
    torch._dynamo.reset()
    gpu.set_mode(gpu.RenderMode(compile="default", compile_backend=graphs, buckets=(4,)))
    try:
        compiled = render_frames(pipeline, requests)
        traced = len(graphs)
        assert traced >= 1
        for a, b in zip(eager, compiled, strict=True):
            assert_same_frame(a, b)
        # Other batch sizes, strengths (so other timesteps and active subsets) and seeds: no new graph.
        render_frames(pipeline, fan_requests(pipeline, 4)[::-1])
        render_frames(pipeline, fan_requests(pipeline, 1))
        assert len(graphs) == traced
    finally:
        torch._dynamo.reset()


def test_a_frame_continues_from_the_previous_frames_latents_without_the_encoder(
        sd_view: lora.LoraArtworkPipeline, builtin: ArtworkDiffusionPipeline, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    gpu.set_mode(gpu.RenderMode(tiny_vae_dir=tiny_autoencoder(tmp_path / "taesd")))
    requests = fan_requests(sd_view, 3)
    first = render_frames(sd_view, requests)
    assert all(frame.latents is not None for frame in first)
    # The wire between API processes and `remix worker` carries them too.
    assert torch.equal(decode_results(encode_results(first))[1].latents, first[1].latents)  # type: ignore[arg-type]
    follow = [replace(r, init=f.pixels, init_latents=f.latents, seed=r.seed + 1, strength=0.5)
              for r, f in zip(requests, first, strict=True)]
    wired = decode_requests(encode_requests(follow))[2].init_latents
    assert wired is not None and torch.equal(wired, follow[2].init_latents)  # type: ignore[arg-type]
    codec = gpu.live_runtime(sd_view).codec
    encoded: list[int] = []
    real_encode = codec.encode_on_device
    monkeypatch.setattr(codec, "encode_on_device", lambda pixels: encoded.append(len(pixels)) or real_encode(pixels))
    batched = render_frames(sd_view, follow)
    assert encoded == []  # no autoencoder round trip between a fan's frames
    assert_same_frame(render_frames(sd_view, [follow[1]])[0], batched[1])
    assert render_frames(sd_view, [follow[1]])[0].jpeg == render_frames(sd_view, [follow[1]])[0].jpeg
    assert (batched[1].pixels - first[1].pixels).abs().mean() > 0.01  # the picture moves on
    # Frames without latents (the first of a session, or from a model without an autoencoder) are encoded.
    render_frames(sd_view, [replace(follow[1], init_latents=None)])
    assert encoded == [1]
    assert render_frames(builtin, fan_requests(builtin, 1))[0].latents is None  # the exact patch fold: pixels only


def test_a_compiled_tiny_autoencoder_keeps_static_shapes_too(tmp_path: Path) -> None:
    graphs = GraphCounter()

    # Its own base and autoencoder: compiling changes the modules in place.
    view = lora.shared_base(base_identity(save_random_pipeline("tiny", tmp_path / "tiny-sd-turbo"))).pipeline(None)
    taesd = tiny_autoencoder(tmp_path / "taesd")
    requests = fan_requests(view, 3)
    gpu.set_mode(gpu.RenderMode(tiny_vae_dir=taesd))
    eager = render_frames(view, requests)
    torch._dynamo.reset()
    gpu.set_mode(gpu.RenderMode(compile="default", compile_backend=graphs, buckets=(4,),
                                tiny_vae_dir=taesd))
    try:
        codec = gpu.live_runtime(view).codec
        assert isinstance(codec, gpu.TinyLatentCodec)
        compiled = render_frames(view, requests)
        for a, b in zip(eager, compiled, strict=True):
            assert_same_frame(a, b)
        assert codec.vae.decoder._compiled_call_impl is not None  # the halves really run compiled
        traced = len(graphs)
        follow = [replace(r, init=f.pixels, init_latents=f.latents) for r, f in zip(requests, compiled, strict=True)]
        render_frames(view, follow[:1])  # one frame from latents: padded to the bucket, no new graph
        render_frames(view, fan_requests(view, 2))
        assert len(graphs) == traced
    finally:
        torch._dynamo.reset()


def test_warming_up_builds_every_bucket_so_no_fan_waits_for_a_compile(tmp_path: Path) -> None:
    graphs = GraphCounter()

    # Its own base and autoencoder (compiling changes the modules in place), so the encoder, the UNet and the
    # decoder all have graphs to build.
    view = lora.shared_base(base_identity(save_random_pipeline("tiny", tmp_path / "tiny-sd-turbo"))).pipeline(None)
    taesd = tiny_autoencoder(tmp_path / "taesd")
    gpu.set_mode(gpu.RenderMode(tiny_vae_dir=taesd))
    assert warm_up_buckets(view, max_batch=3, steps=2, output_size=96) == ()  # eager: nothing to build
    torch._dynamo.reset()
    gpu.set_mode(gpu.RenderMode(compile="default", compile_backend=graphs, buckets=(1, 2, 4),
                                tiny_vae_dir=taesd))
    try:
        assert warm_up_buckets(view, max_batch=2, steps=2, output_size=96) == (1, 2)
        built = len(graphs)
        assert built >= 2
        # Any number of fans up to the worker's batch, first frames and frames continuing from their latents:
        # every graph is already there.
        for count in (1, 2):
            first = render_frames(view, fan_requests(view, count))
            render_frames(view, [replace(r, init=f.pixels, init_latents=f.latents, seed=r.seed + 1)
                                 for r, f in zip(fan_requests(view, count), first, strict=True)])
        assert len(graphs) == built
        render_frames(view, fan_requests(view, 3))  # beyond what was warmed: the bucket of 4 compiles now
        assert len(graphs) > built
    finally:
        torch._dynamo.reset()
