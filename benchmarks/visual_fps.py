"""Benchmark: live visual frames per second, the plain diffusers img2img loop against this project's renderer.

Builds SD-turbo-sized components with random weights from their configs (size ``sd-turbo`` of
``remix.visuals.random_pipeline``: UNet2DConditionModel ~865 M parameters at 64² latents / 512² frames,
AutoencoderKL, AutoencoderTiny, a CLIP text encoder; nothing is downloaded; the compute is the same as with real
weights). ``--tiny`` (the default without CUDA) uses tiny configs instead: on a CPU this is a correctness check of
the whole path, not a speed figure.

Every round, each of N concurrent fans asks for its next frame at the same moment (1-step image→image from
its previous frame, strength 0.5, its own prompt embedding and seed). Measured in one run:

* **peer** — diffusers' ``StableDiffusionImg2ImgPipeline`` built from the same components (float16 on CUDA,
  full VAE, precomputed ``prompt_embeds``), serving the fans one at a time, as a pipeline per user does;
* **ours** — :func:`remix.live.visual.render_frames` on an :class:`~remix.visuals.lora.OperatorBase` built
  from the same components (the production path of ``lora`` models), all fans in one batched call, in the
  GPU mode set by ``--compile`` and with the full VAE or the tiny autoencoder (``AutoencoderTiny`` saved to a
  temporary directory and loaded the way ``REMIX_VISUAL_TINY_VAE`` loads it).

Both paths end with a JPEG per frame. Reported per row: frames/s per fan, frames/s in total, p50/p99 frame
latency (request → the fan's JPEG), peak GPU memory, and for ours the largest difference between a fan's
frame in the batch and the same frame rendered alone. Run ``.venv/bin/python benchmarks/visual_fps.py --help``.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from diffusers import AutoencoderKL, StableDiffusionImg2ImgPipeline
from PIL import Image

from remix.live.visual import FrameRequest, FrameResult, encode_jpeg, render_frames
from remix.visuals import gpu, lora
from remix.visuals.operator_base import BaseIdentity
from remix.visuals.pipeline import to_image
from remix.visuals.random_pipeline import SIZES, random_components

# Without CUDA: the tiny size at 64² frames with SD's 77-token context, the shapes this correctness check runs.
CPU_CHECK_SIZE = replace(SIZES["tiny"], latent_size=32, tokens=77)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Row:
    def __init__(self, name: str, fans: int) -> None:
        self.name, self.fans = name, fans
        self.latencies: list[float] = []
        self.frames = 0
        self.seconds = 0.0
        self.memory = float("nan")
        self.batch_delta = float("nan")

    def cells(self) -> str:
        total = self.frames / self.seconds
        memory = f"{self.memory:.1f}" if self.memory == self.memory else "–"
        delta = f"{self.batch_delta:.1e}" if self.batch_delta == self.batch_delta else "–"
        return (f"| {self.name} | {self.fans} | {total / self.fans:.1f} | {total:.1f} | "
                f"{statistics.median(self.latencies) * 1000:.1f} | {percentile(self.latencies, 99) * 1000:.1f} | "
                f"{memory} | {delta} |")


def measure(row: Row, device: torch.device, rounds: int, warmup: int,
            one_round: Callable[[], list[float]]) -> Row:
    """``one_round`` renders a frame for every fan and returns each fan's latency in seconds."""
    for _ in range(warmup):
        one_round()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync(device)
    started = time.perf_counter()
    for _ in range(rounds):
        row.latencies.extend(one_round())
    sync(device)
    row.seconds = time.perf_counter() - started
    row.frames = rounds * row.fans
    if device.type == "cuda":
        row.memory = torch.cuda.max_memory_allocated() / 2**30
    return row


def progress(row: Row) -> None:
    """Each row as soon as it is measured (stderr), so a run cut short still tells something."""
    print(row.cells(), file=sys.stderr, flush=True)


def profile(one_round: Callable[[], list[float]], device: torch.device, title: str, rounds: int = 5) -> None:
    """Where a round's time goes: the ``live.*`` stages of render_frames and the heaviest operators."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(rounds):
            one_round()
        sync(device)
    sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    print(f"\n### Profile: {title} ({rounds} rounds)\n", file=sys.stderr)
    print(prof.key_averages().table(sort_by=sort, row_limit=22, max_name_column_width=60), file=sys.stderr,
          flush=True)


def jpeg_encoder() -> str:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return "PIL on the CPU"
    return "nvJPEG (torchvision) on the GPU" if torch.cuda.is_available() else "PIL on the CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action=argparse.BooleanOptionalAction, default=None,
                        help="tiny configs (default: on without CUDA)")
    parser.add_argument("--fans", default="1,4,16,32", help="concurrent fan counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per row (default 30 on CUDA, 3 CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed rounds first (default 3 on CUDA, 1 CPU)")
    parser.add_argument("--compile", default="off", choices=["off", "default", "reduce-overhead", "max-autotune"],
                        help="REMIX_VISUAL_COMPILE for ours")
    parser.add_argument("--peer-rounds", type=int, default=None,
                        help="timed rounds per peer row (default: --rounds; the peer serves fans one at a time)")
    parser.add_argument("--profile", action="store_true",
                        help="also print where ours spends its time (torch.profiler, 1 fan and the most fans)")
    parser.add_argument("--full-vae", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure ours with the base's full VAE (the tiny autoencoder is GPU mode's codec)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    tiny = (not cuda) if args.tiny is None else args.tiny
    rounds = args.rounds or (30 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    peer_rounds = args.peer_rounds or rounds
    fan_counts = [int(n) for n in args.fans.split(",")]
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.float16 if cuda else torch.float32

    size = CPU_CHECK_SIZE if tiny else SIZES["sd-turbo"]
    parts = random_components(size, with_tiny_autoencoder=True, device=device, dtype=dtype)
    params = sum(p.numel() for p in parts.unet.parameters())
    image_size = size.image_size
    with torch.inference_mode():
        ids = torch.randint(0, parts.text_encoder.config.vocab_size, (max(fan_counts), size.tokens),
                            generator=torch.Generator().manual_seed(1)).to(device)
        embeddings = parts.text_encoder(ids)[0].float().cpu()  # one prompt per fan, encoded once
    start_frames = torch.rand((max(fan_counts), 3, image_size, image_size),
                              generator=torch.Generator().manual_seed(2)) * 2 - 1

    # The peer: diffusers' own img2img pipeline on the same weights (its VAE in the same precision as the UNet),
    # with its own UNet copy: ours compiles its UNet in place, and the peer stays the plain loop.
    peer_unet = copy.deepcopy(parts.unet)
    peer_vae = AutoencoderKL.from_config(parts.vae.config)
    peer_vae.load_state_dict(parts.vae.state_dict())
    peer_vae.to(device=device, dtype=dtype)  # type: ignore[call-arg]
    peer = StableDiffusionImg2ImgPipeline(
        vae=peer_vae, text_encoder=parts.text_encoder, tokenizer=None, unet=peer_unet,  # type: ignore[arg-type]
        scheduler=parts.scheduler, safety_checker=None, feature_extractor=None,  # type: ignore[arg-type]
        requires_safety_checker=False)
    peer.set_progress_bar_config(disable=True)

    # Ours: the operator base built from the same components (VAE float32, as OperatorBase.load keeps it).
    identity = BaseIdentity(directory=Path("."), dir_name="random-sd-turbo", pipeline_class="", files={}, sha256="0")
    base = lora.OperatorBase(identity, parts.unet, parts.vae, parts.text_encoder, None, parts.scheduler.config)
    pipeline = base.pipeline(None)
    taesd_dir = Path(tempfile.mkdtemp(prefix="visual-fps-taesd-"))
    assert parts.tiny_autoencoder is not None
    parts.tiny_autoencoder.save_pretrained(taesd_dir, safe_serialization=True)
    parts.tiny_autoencoder = None  # GPU mode loads its own copy from the directory; this one would only hold memory

    def peer_round(fans: int, frames: list[Image.Image]) -> list[float]:
        began, latencies = time.perf_counter(), []
        for i in range(fans):  # one fan at a time: a pipeline serves one user
            out = peer(prompt_embeds=embeddings[i:i + 1].to(device=device, dtype=dtype), image=frames[i],
                       strength=0.5, num_inference_steps=2, guidance_scale=0.0,
                       generator=torch.Generator().manual_seed(i)).images[0]
            encode_jpeg(out)
            frames[i] = out
            latencies.append(time.perf_counter() - began)
        return latencies

    def ours_round(fans: int, state: list[tuple[torch.Tensor, torch.Tensor | None]], seed: list[int]) -> list[float]:
        began = time.perf_counter()
        # As a live session does: each fan continues from its previous frame (its latents once it has them).
        requests = [FrameRequest(embedding=embeddings[i], init=state[i][0], init_latents=state[i][1], strength=0.5,
                                 seed=seed[0] + i, steps=2, output_size=image_size) for i in range(fans)]
        results: list[FrameResult] = render_frames(pipeline, requests)
        seed[0] += fans
        for i, result in enumerate(results):
            state[i] = (result.pixels, result.latents)
        return [time.perf_counter() - began] * fans

    def batch_delta(fans: int) -> float:
        requests = [FrameRequest(embedding=embeddings[i], init=start_frames[i], strength=0.5, seed=7 + i, steps=2,
                                 output_size=image_size) for i in range(fans)]
        batched = render_frames(pipeline, requests)
        alone = [render_frames(pipeline, [r])[0] for r in requests[:4]]
        return max(float((a.pixels - b.pixels).abs().max()) for a, b in zip(alone, batched, strict=False))

    rows: list[Row] = []
    for fans in fan_counts:
        frames = [to_image(start_frames[i], image_size) for i in range(fans)]
        rows.append(measure(Row("peer: diffusers img2img, one fan at a time", fans), device, peer_rounds,
                            min(warmup, 1) if fans > 1 else warmup,
                            lambda fans=fans, frames=frames: peer_round(fans, frames)))  # type: ignore[misc]
        progress(rows[-1])
        codecs = [("full VAE", None)] if args.full_vae else []
        for label, tiny_vae in [*codecs, ("tiny autoencoder", taesd_dir)]:
            gpu.set_mode(gpu.RenderMode(device="cuda" if cuda else "cpu", compile=args.compile,
                                        tiny_vae_dir=tiny_vae))
            state: list[tuple[torch.Tensor, torch.Tensor | None]] = [(start_frames[i], None) for i in range(fans)]
            row = measure(Row(f"ours: batched, {label}", fans), device, rounds, warmup,
                          lambda fans=fans, state=state: ours_round(fans, state, [0]))  # type: ignore[misc]
            row.batch_delta = batch_delta(fans)
            rows.append(row)
            progress(row)
            if args.profile and fans in (fan_counts[0], fan_counts[-1]):
                profile(lambda fans=fans, state=state: ours_round(fans, state, [0]), device,  # type: ignore[misc]
                        f"{row.name}, {fans} fans")

    name = torch.cuda.get_device_name() if cuda else (platform.processor() or platform.machine())
    print(f"## Live visual frames/s ({'tiny configs: correctness check' if tiny else 'SD-turbo-sized'}, "
          f"random weights)\n")
    print(f"Device: **{name}**, torch {torch.__version__}, {'float16' if cuda else 'float32'}, "
          f"{params / 1e6:.0f} M-parameter UNet, {image_size}² frames, 1-step image→image (strength 0.5), "
          f"compile {args.compile}, {rounds} timed rounds after {warmup} warm-up ({peer_rounds} for the peer), "
          f"frames encoded by {jpeg_encoder()}"
          f"{'' if cuda else f', {args.threads} CPU threads'}\n")
    print("| path | fans | frames/s per fan | frames/s total | p50 ms | p99 ms | GPU GiB | batched vs alone max Δ |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row.cells())


if __name__ == "__main__":
    main()
