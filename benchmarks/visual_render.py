"""Benchmark: render one live-visuals frame (≥ 256×256 shown) with the demo-sized built-in model on the CPU.

Loads a checkpoint written by ``remix train`` (default ``models/demo-artwork-v1/checkpoint``); without one it
times the same architecture with random weights (speed depends on the architecture, not the weights) and says
so. Times text→image and image→image (previous frame in, strength 0.5) with ``--steps`` DDIM steps, the prompt
embedding cached as in a live session; reports medians of wall-clock and process CPU time over ``--runs``.

With ``--artwork DIR`` (e.g. ``var/demo-media/artwork``) and ``--captions`` it also measures how close the
checkpoint's frames are to the training artwork against an untrained model of the same architecture
(colour-histogram distance and 16×16 downsampled-pixel RMS distance to the nearest artwork; lower = closer).

Run ``.venv/bin/python benchmarks/visual_render.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from PIL import Image

from remix.visuals.pipeline import ArtworkDiffusionPipeline
from remix.visuals.quality import distance_to_artwork
from remix.visuals.text_encoder import load_sentence_encoder
from remix.visuals.training import PRESETS, load_checkpoint, untrained_pipeline

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "demo-artwork-v1" / "checkpoint"
TARGET_MS = 200.0


def timed(fn: object, runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", default="white rocket on a launch pad at dusk")
    parser.add_argument("--artwork", type=Path, help="folder of the training artwork, for the quality figure")
    parser.add_argument("--manifest", type=Path, help="training manifest (captions for the quality figure)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    encoder = load_sentence_encoder()
    if args.checkpoint.is_dir():
        pipeline, source = load_checkpoint(args.checkpoint, encoder), f"checkpoint `{args.checkpoint.parent.name}`"
    else:
        pipeline, source = untrained_pipeline(PRESETS["demo"], encoder), "demo architecture, random weights"
    params = sum(p.numel() for p in pipeline.unet.parameters())
    generator = torch.Generator()
    previous = pipeline(args.prompt, generator=generator.manual_seed(0), output_size=args.size).images[0]

    def text_to_image() -> None:
        pipeline(args.prompt, generator=generator.manual_seed(1), num_inference_steps=args.steps,
                 output_size=args.size)

    def image_to_image() -> None:
        pipeline(args.prompt, previous, strength=0.5, generator=generator.manual_seed(1),
                 num_inference_steps=args.steps, output_size=args.size)

    for _ in range(3):
        text_to_image()
    rows = [("text→image", *timed(text_to_image, args.runs)), ("image→image (strength 0.5)",
                                                                *timed(image_to_image, args.runs))]
    print(f"## Visual render benchmark ({source}, {params / 1e6:.1f} M parameters)\n")
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
          f"{args.steps} DDIM steps, {pipeline.codec.image_size}² model → {args.size}² frame, "
          f"median of {args.runs}\n")
    print("| path | wall ms | CPU ms | target |")
    print("|---|---:|---:|---|")
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | ≤ {TARGET_MS:.0f} ms {'✓' if wall <= TARGET_MS else '✗'} |")
    if args.artwork and args.manifest:
        manifest = json.loads(args.manifest.read_text())
        captions = [d["caption"] for d in manifest["training_data"]]
        artwork = [Image.open(p).convert("RGB") for p in sorted(args.artwork.iterdir()) if p.is_file()]
        baseline = untrained_pipeline(PRESETS[manifest["hyper_parameters"]["preset"]], encoder)

        def frames(p: ArtworkDiffusionPipeline) -> list[Image.Image]:
            return [p(c, generator=torch.Generator().manual_seed(s), num_inference_steps=args.steps).images[0]
                    for s in range(4) for c in captions]

        trained, untrained = distance_to_artwork(frames(pipeline), artwork), distance_to_artwork(frames(baseline),
                                                                                               artwork)
        print("\n## Closeness to the training artwork (lower = closer; 4 seeds × each caption)\n")
        print("| model | colour-histogram distance | 16×16 pixel RMS distance |")
        print("|---|---:|---:|")
        print(f"| trained ({source}) | {trained.colour_histogram:.3f} | {trained.downsampled_pixels:.1f} |")
        print(f"| untrained, same architecture | {untrained.colour_histogram:.3f} "
              f"| {untrained.downsampled_pixels:.1f} |")


if __name__ == "__main__":
    main()
