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
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from tokenizers import pre_tokenizers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from remix.visuals import lora
from remix.visuals.operator_base import base_identity


def random_sd_base(directory: Path) -> Path:
    """An SD-shaped pipeline with random weights, saved as an operator would ship it."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(64, 128, 256),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=256,
        attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 64, 64), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32,
        sample_size=256)
    chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in [*chars, *(c + "</w>" for c in chars)]:
        vocab.setdefault(token, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=256, intermediate_size=1024, num_attention_heads=4,
        num_hidden_layers=4, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="trailing", steps_offset=1)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    target = directory / "random-sd-base"
    pipeline.save_pretrained(target, safe_serialization=True)
    return target


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
        identity = base_identity(args.base or random_sd_base(folder))
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
