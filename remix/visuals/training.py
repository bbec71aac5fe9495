"""Training the built-in model from scratch on approved artwork, and saving/loading its checkpoint.

Nothing here touches the database: :mod:`remix.visuals.service` decides *what* may be trained on (consent)
and records the result; this module only turns images + captions into weights.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from PIL import Image

from remix.visuals.pipeline import ArtworkDiffusionPipeline, PatchLatentCodec, make_scheduler
from remix.visuals.text_encoder import EMBEDDING_DIM, SentenceEncoder

ProgressCallback = Callable[[int, int, float], None]
"""Called as ``progress(step, total_steps, loss)``."""

CHECKPOINT_FILES = ("unet/config.json", "unet/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json",
                    "pipeline.json")


class ManifestedConfig:
    """What every training config (built-in and LoRA) shares: the run's ``steps`` and ``seed`` may be set per
    run, and every field goes into the training manifest verbatim (tuples as JSON lists)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]  # subclasses are dataclasses (what asdict/replace ask for)
    steps: int
    seed: int

    def with_overrides(self, *, steps: int | None = None, seed: int | None = None) -> Self:
        return replace(self, steps=steps if steps is not None else self.steps,
                       seed=seed if seed is not None else self.seed)

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TrainingConfig(ManifestedConfig):
    """Every hyper-parameter of one run; it goes into the training manifest verbatim."""

    preset: str
    image_size: int
    patch_size: int
    block_out_channels: tuple[int, ...]
    attention_levels: tuple[bool, ...]
    attention_heads: int
    layers_per_block: int
    norm_groups: int
    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int
    caption_dropout: float
    crop_scale_min: float
    colour_jitter: float
    seed: int

    @property
    def codec(self) -> PatchLatentCodec:
        return PatchLatentCodec(self.image_size, self.patch_size)

    def build_unet(self) -> UNet2DConditionModel:
        """A randomly initialised UNet (seeded by the caller)."""
        down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in self.attention_levels)
        up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(self.attention_levels))
        codec = self.codec
        return UNet2DConditionModel(
            sample_size=codec.latent_size, in_channels=codec.latent_channels, out_channels=codec.latent_channels,
            block_out_channels=self.block_out_channels, layers_per_block=self.layers_per_block,
            down_block_types=down, up_block_types=up, cross_attention_dim=EMBEDDING_DIM,
            attention_head_dim=self.attention_heads, norm_num_groups=self.norm_groups,
            class_embed_type="projection", projection_class_embeddings_input_dim=EMBEDDING_DIM,
        )


PRESETS: dict[str, TrainingConfig] = {
    # The demo model: 64×64 folded to 16×16×48, self-attention only at 8×8; ~3.6M parameters (~14 MB float32).
    "demo": TrainingConfig(
        preset="demo", image_size=64, patch_size=4, block_out_channels=(32, 64, 128),
        attention_levels=(False, True, False), attention_heads=4, layers_per_block=1, norm_groups=8,
        steps=600, batch_size=8, learning_rate=1e-3, warmup_steps=30, caption_dropout=0.1,
        crop_scale_min=0.6, colour_jitter=0.08, seed=0,
    ),
    # For tests and quick checks: trains in seconds, still learns the palette of its artwork.
    "tiny": TrainingConfig(
        preset="tiny", image_size=32, patch_size=4, block_out_channels=(32, 64),
        attention_levels=(True, False), attention_heads=2, layers_per_block=1, norm_groups=8,
        steps=60, batch_size=6, learning_rate=2e-3, warmup_steps=5, caption_dropout=0.1,
        crop_scale_min=0.7, colour_jitter=0.05, seed=0,
    ),
}


@dataclass(frozen=True)
class TrainingExample:
    """One approved artwork and the caption its artist gave it."""

    image: Image.Image
    caption: str


class ArtworkAugmenter:
    """Random square crops, horizontal flips and a little colour jitter, drawn from a seeded generator."""

    def __init__(self, examples: Sequence[TrainingExample], config: TrainingConfig, generator: torch.Generator):
        self.config = config
        self.generator = generator
        # Keep each artwork at twice the training size so crops stay sharp.
        big = PatchLatentCodec(config.image_size * 2, 1)
        self.pixels = torch.stack([big.to_pixels(e.image) for e in examples])

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=self.generator))

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        size, full = self.config.image_size, self.pixels.shape[-1]
        crops = []
        for i in indices.tolist():
            side = int(full * math.sqrt(self._uniform(self.config.crop_scale_min, 1.0)))
            top = int(torch.randint(0, full - side + 1, (), generator=self.generator))
            left = int(torch.randint(0, full - side + 1, (), generator=self.generator))
            crop = self.pixels[i : i + 1, :, top : top + side, left : left + side]
            crop = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", antialias=True,
                                                   align_corners=False)[0]
            if float(torch.rand((), generator=self.generator)) < 0.5:
                crop = crop.flip(-1)
            jitter = self.config.colour_jitter
            if jitter:
                gain = 1.0 + self._uniform(-jitter, jitter)
                shift = torch.tensor([self._uniform(-jitter, jitter) for _ in range(3)]).view(3, 1, 1)
                crop = crop * gain + shift
            crops.append(crop.clamp(-1, 1))
        return torch.stack(crops)


def require_training_examples(examples: Sequence[TrainingExample]) -> None:
    """Both kinds of training refuse up front to start without approved artwork or with an uncaptioned image."""
    if not examples:
        raise ValueError("`examples` is empty: there is no approved artwork to train on")
    if any(not e.caption.strip() for e in examples):
        raise ValueError("every artwork needs a caption to train on")


def train_from_scratch(
    examples: Sequence[TrainingExample],
    config: TrainingConfig,
    encoder: SentenceEncoder,
    *,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ArtworkDiffusionPipeline:
    """Train a UNet from random initialisation on ``examples`` alone; deterministic for a given config on CPU."""
    require_training_examples(examples)
    device = ArtworkDiffusionPipeline.best_device()[0]
    torch.manual_seed(config.seed)
    unet = config.build_unet()
    unet.to(device)  # type: ignore[arg-type]
    unet.train()
    generator = torch.Generator().manual_seed(config.seed)
    augmenter = ArtworkAugmenter(examples, config, generator)
    captions = encoder.encode([e.caption for e in examples])
    scheduler = make_scheduler()
    codec = config.codec
    timesteps = len(scheduler.alphas_cumprod)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.learning_rate, weight_decay=1e-4, foreach=True)

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        done = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * done))  # cosine decay to zero stands in for an EMA of the weights

    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    loss_ema = float("nan")
    for step in range(config.steps):
        if should_stop is not None and should_stop():
            raise TrainingStopped("training was stopped (the model was withdrawn)")
        picks = torch.randint(0, len(examples), (config.batch_size,), generator=generator)
        clean = codec.encode(augmenter.batch(picks))
        cond = captions[picks].clone()
        drop = torch.rand(config.batch_size, generator=generator) < config.caption_dropout
        cond[drop] = 0.0  # the unconditional case, for classifier-free guidance
        noise = torch.randn(clean.shape, generator=generator)
        t = torch.randint(0, timesteps, (config.batch_size,), generator=generator)
        noisy = scheduler.add_noise(clean, noise, t)  # type: ignore[arg-type]
        target = clean  # x0-prediction (see make_scheduler)
        cond = cond.to(device)
        pred = unet(noisy.to(device), t.to(device), encoder_hidden_states=cond.unsqueeze(1), class_labels=cond).sample
        loss = torch.nn.functional.mse_loss(pred, target.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        lr_schedule.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(f"training diverged at step {step + 1} (loss {value})")
        loss_ema = value if math.isnan(loss_ema) else 0.9 * loss_ema + 0.1 * value
        if progress is not None:
            progress(step + 1, config.steps, loss_ema)
    unet.eval()
    pipeline = ArtworkDiffusionPipeline(unet=unet, scheduler=scheduler, text_encoder=encoder, codec=codec)
    return pipeline


class TrainingStopped(RuntimeError):
    """Training ended early on purpose."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def untrained_pipeline(config: TrainingConfig, encoder: SentenceEncoder) -> ArtworkDiffusionPipeline:
    """The same architecture with random weights: the baseline trained models are measured against."""
    torch.manual_seed(config.seed)
    return ArtworkDiffusionPipeline(unet=config.build_unet(), scheduler=make_scheduler(), text_encoder=encoder,
                                    codec=config.codec)


def save_checkpoint(pipeline: ArtworkDiffusionPipeline, directory: Path, config: TrainingConfig) -> None:
    """Write the UNet (safetensors), the scheduler and the pipeline settings under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    pipeline.unet.save_pretrained(directory / "unet", safe_serialization=True)
    pipeline.scheduler.save_pretrained(directory / "scheduler")
    settings = {"image_size": config.image_size, "patch_size": config.patch_size,
                "text_encoder": pipeline.text_encoder.identity}
    (directory / "pipeline.json").write_text(json.dumps(settings, indent=2, sort_keys=True))


def load_checkpoint(directory: Path, encoder: SentenceEncoder) -> ArtworkDiffusionPipeline:
    """Load a checkpoint written by :func:`save_checkpoint`; only local files are read."""
    settings = json.loads((directory / "pipeline.json").read_text())
    expected = settings.get("text_encoder", {}).get("weights_sha256")
    if expected and expected != encoder.identity.get("weights_sha256"):
        raise ValueError("this checkpoint was trained with a different text encoder than the one installed")
    unet = UNet2DConditionModel.from_pretrained(directory / "unet", local_files_only=True)
    scheduler = DDIMScheduler.from_pretrained(directory / "scheduler", local_files_only=True)
    device, dtype = ArtworkDiffusionPipeline.best_device()
    pipeline = ArtworkDiffusionPipeline(unet=unet, scheduler=scheduler, text_encoder=encoder,
                                        codec=PatchLatentCodec(settings["image_size"], settings["patch_size"]))
    return pipeline.to(device, dtype)


def sample_grid(pipeline: ArtworkDiffusionPipeline, captions: Sequence[str], *, seeds: Sequence[int] = (0, 1),
                tile: int = 192, steps: int = 6) -> Image.Image:
    """One column per caption, one row per seed: what the artist reviews before approving."""
    grid = Image.new("RGB", (tile * len(captions), tile * len(seeds)), "black")
    for row, seed in enumerate(seeds):
        generators = [torch.Generator().manual_seed(seed) for _ in captions]
        frames = pipeline(list(captions), num_inference_steps=steps, guidance_scale=2.0, generator=generators,
                          output_size=max(tile, pipeline.codec.image_size)).images
        for col, frame in enumerate(frames):
            grid.paste(frame.resize((tile, tile), Image.Resampling.BICUBIC), (col * tile, row * tile))
    return grid
