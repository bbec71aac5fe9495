"""Benchmark: swapping per-artist LoRA adapters on one shared operator base, against the costs it avoids.

Measured in one run, interleaved, medians over ``--runs``:

* a frame whose adapter is already active, a frame that first switches to another artist's adapter (the
  swap), and a frame from the bare base (the LoRA's own overhead);
* attaching an adapter from its checkpoint (read safetensors + add to the UNet by name) against loading the
  base pipeline from its directory — what serving each artist from a merged copy of the base would cost.

``--base DIR`` times a real operator pipeline directory (e.g. SD-turbo). Without it the benchmark builds a
random SD-shaped base (UNet 64/128/256 channels, VAE ×8 with 32–64 channels, 4-layer CLIP, 256×256 frames)
in a temporary folder: speed depends on the architecture, not on the weights, and nothing is downloaded.

Run ``.venv/bin/python benchmarks/lora_swap.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from diffusers import UNet2DConditionModel
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from remix.visuals import lora
from remix.visuals.operator_base import base_identity
from remix.visuals.random_pipeline import save_random_pipeline


def random_adapter(identity: object, rank: int, seed: int, directory: Path) -> Path:
    """A LoRA with random (non-zero) weights in the training job's checkpoint format."""
    unet = UNet2DConditionModel.from_pretrained(identity.directory / "unet")  # type: ignore[attr-defined]
    torch.manual_seed(seed)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=list(lora.TARGET_MODULES),
                                init_lora_weights="gaussian"), adapter_name="bench")
    weights = {k: torch.randn_like(v) * 0.02 for k, v in get_peft_model_state_dict(unet, adapter_name="bench").items()}
    config = lora.LORA_PRESETS["demo"].with_overrides(seed=seed)
    lora.save_adapter(weights, directory, config, identity, int(unet.config["sample_size"]) * 8)  # type: ignore[arg-type]
    return directory


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="an operator diffusers pipeline directory (default: random)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rank", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        identity = base_identity(args.base or save_random_pipeline("small", folder / "random-sd-base"))
        paths = [random_adapter(identity, args.rank, seed, folder / f"adapter-{seed}") for seed in (1, 2)]
        load_started = time.perf_counter()
        base = lora.OperatorBase.load(identity)
        first_load = time.perf_counter() - load_started
        adapters = [lora.load_adapter(p, f"artist_{i}", identity) for i, p in enumerate(paths)]
        views = [base.pipeline(a) for a in adapters]
        bare = base.pipeline(None)

        def frame(view: lora.LoraArtworkPipeline) -> Callable[[], object]:
            return lambda: view("white rocket at dusk", generator=torch.Generator().manual_seed(0),
                                num_inference_steps=args.steps, output_size=256)

        for view in (*views, bare):  # warm-up: attach both adapters, first-call allocations
            frame(view)()
        same, swapped, plain, attach, reload = [], [], [], [], []
        for _ in range(args.runs):
            frame(views[0])()
            started = time.perf_counter()
            frame(views[0])()  # adapter 0 already active
            same.append(time.perf_counter() - started)
            started = time.perf_counter()
            frame(views[1])()  # switches to adapter 1 first
            swapped.append(time.perf_counter() - started)
            started = time.perf_counter()
            frame(bare)()
            plain.append(time.perf_counter() - started)
            base.drop_adapter("artist_1")
            started = time.perf_counter()
            fresh = lora.load_adapter(paths[1], "artist_1", identity)
            with base.lock:
                base.activate(fresh)
            attach.append(time.perf_counter() - started)
            views[1] = base.pipeline(fresh)
            started = time.perf_counter()
            lora.OperatorBase.load(identity)
            reload.append(time.perf_counter() - started)
        result = {
            "base": identity.dir_name, "image_size": base.image_size, "steps": args.steps, "rank": args.rank,
            "threads": args.threads, "runs": args.runs, "cpu": platform.processor() or platform.machine(),
            "frame_same_adapter_ms": median_ms(same), "frame_after_swap_ms": median_ms(swapped),
            "frame_bare_base_ms": median_ms(plain),
            "swap_overhead_ms": round(median_ms(swapped) - median_ms(same), 1),
            "attach_adapter_ms": median_ms(attach), "load_base_ms": median_ms(reload),
            "first_base_load_ms": round(first_load * 1000, 1),
            "load_base_over_attach": round(statistics.median(reload) / statistics.median(attach), 1),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
