"""The ``lora`` base kind: an operator-supplied diffusers pipeline adapted per artist with a peft LoRA.

* :class:`OperatorBase` is the label's licensed pipeline (UNet, VAE, CLIP text encoder + tokenizer, scheduler),
  loaded from its local directory once per process (:func:`shared_base`). Every artist's adapter is added to
  its UNet *by name* and activated per call, so switching artists never reloads or copies the base.
* :func:`train_lora` trains a LoRA on the UNet's attention projections (``to_q``, ``to_k``, ``to_v``,
  ``to_out.0``) on approved artwork only, on a private copy of the base (rendering is never disturbed), and
  :func:`save_adapter` writes just the adapter (safetensors, diffusers' ``unet.``-prefixed key format) and its
  settings — never the base's weights, which stay the label's.
* :class:`LoraArtworkPipeline` is one artist's view of the shared base. It is an
  :class:`~remix.visuals.pipeline.ArtworkDiffusionPipeline` (same ``__call__``, ``check_inputs``, output,
  ``unet``/``scheduler``/``text_encoder``/``codec`` components), so HTTP rendering, sample grids and the live
  frame batcher (:func:`remix.live.visual.render_frames`) use a LoRA model exactly like a built-in one. Its
  ``codec`` is the base's VAE, its ``text_encoder`` the base's CLIP (per-token embeddings), and its ``unet``
  activates the artist's adapter under the base's lock for each denoising call, so concurrent renders for
  different artists interleave safely.

Sampling uses DDIM with trailing timesteps built from the base's scheduler config (SD-turbo ships Euler with
trailing spacing): 1–4 steps from pure noise, and image→image by noising the previous frame's VAE latents.
"""

from __future__ import annotations

import json
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from safetensors.torch import load_file, save_file

from remix.visuals.operator_base import BaseIdentity
from remix.visuals.pipeline import ArtworkDiffusionPipeline, AutoencoderLatentCodec
from remix.visuals.training import (
    ManifestedConfig,
    ProgressCallback,
    TrainingDiverged,
    TrainingExample,
    TrainingStopped,
    require_training_examples,
)

TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")
ADAPTER_WEIGHTS = "pytorch_lora_weights.safetensors"  # the file name diffusers' load_lora_weights looks for
ADAPTER_SETTINGS = "lora.json"
ADAPTER_FILES = (ADAPTER_WEIGHTS, ADAPTER_SETTINGS)
MAX_LOADED_ADAPTERS = 16  # per base; an evicted adapter is re-added from its view's tensors on next use
MIN_OUTPUT_SIZE = 64


@dataclass(frozen=True)
class LoraTrainingConfig(ManifestedConfig):
    """Every hyper-parameter of one LoRA run; it goes into the training manifest verbatim."""

    preset: str
    rank: int
    alpha: int
    target_modules: tuple[str, ...]
    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int
    caption_dropout: float
    seed: int


LORA_PRESETS: dict[str, LoraTrainingConfig] = {
    # An SD-turbo-class base at its native size: rank 8 on every attention projection (~0.8M parameters, ~3 MB).
    "demo": LoraTrainingConfig(preset="demo", rank=8, alpha=8, target_modules=TARGET_MODULES, steps=500,
                               batch_size=2, learning_rate=1e-4, warmup_steps=25, caption_dropout=0.1, seed=0),
    # Seconds on a tiny base: for tests and quick checks of the whole path.
    "tiny": LoraTrainingConfig(preset="tiny", rank=4, alpha=4, target_modules=TARGET_MODULES, steps=30,
                               batch_size=2, learning_rate=5e-3, warmup_steps=2, caption_dropout=0.1, seed=0),
}


# ---------------------------------------------------------------------------------------------- components


class VaeLatentCodec(AutoencoderLatentCodec):
    """The base's VAE as the pipeline's codec, in the VAE's scaled (and shifted) latent space. Encoding takes
    the posterior mean, so it is deterministic."""

    def __init__(self, vae: AutoencoderKL, image_size: int) -> None:
        super().__init__(vae, image_size, 2 ** (len(vae.config["block_out_channels"]) - 1))
        self.scaling_factor = float(vae.config["scaling_factor"])
        self.shift_factor = float(vae.config.get("shift_factor") or 0.0)

    def _encode_placed(self, pixels: torch.Tensor) -> torch.Tensor:
        return (self.vae.encode(pixels).latent_dist.mean - self.shift_factor) * self.scaling_factor

    def _decode_placed(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents / self.scaling_factor + self.shift_factor).sample


class ClipPromptEncoder:
    """The base's CLIP text encoder: prompts → per-token embeddings ``[B, tokens, D]`` on the CPU (float32)."""

    def __init__(self, tokenizer: Any, text_encoder: Any, identity: dict[str, Any]) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval()
        self.identity = identity

    @torch.no_grad()  # not inference_mode: training feeds these embeddings into a graph that needs gradients
    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                                truncation=True, return_tensors="pt")
        device = next(self.text_encoder.parameters()).device
        hidden: torch.Tensor = self.text_encoder(tokens.input_ids.to(device))[0]
        return hidden.float().cpu()


def render_scheduler(config: Any) -> DDIMScheduler:
    """DDIM from the base's scheduler config, with trailing timesteps so 1–4 steps start from pure noise."""
    scheduler: DDIMScheduler = DDIMScheduler.from_config(config, timestep_spacing="trailing", clip_sample=False)
    return scheduler


# ---------------------------------------------------------------------------------------------- adapters


@dataclass(frozen=True)
class LoraAdapter:
    """One trained adapter: its name in the base, its tensors (peft keys, CPU) and its LoRA settings."""

    name: str
    weights: dict[str, torch.Tensor]
    rank: int
    alpha: int
    target_modules: tuple[str, ...]

    def peft_config(self) -> Any:
        from peft import LoraConfig

        return LoraConfig(r=self.rank, lora_alpha=self.alpha, target_modules=list(self.target_modules),
                          init_lora_weights=True)


def save_adapter(weights: dict[str, torch.Tensor], directory: Path, config: LoraTrainingConfig,
                 identity: BaseIdentity, image_size: int) -> None:
    """Write the adapter alone: ``unet.``-prefixed LoRA tensors (safetensors) and ``lora.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"unet.{key}": value.detach().float().cpu().contiguous() for key, value in sorted(weights.items())}
    save_file(tensors, str(directory / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    settings = {"rank": config.rank, "alpha": config.alpha, "target_modules": list(config.target_modules),
                "image_size": image_size, "base_sha256": identity.sha256, "base_dir_name": identity.dir_name}
    (directory / ADAPTER_SETTINGS).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")


def load_adapter(directory: Path, name: str, identity: BaseIdentity) -> LoraAdapter:
    """Read an adapter written by :func:`save_adapter`; ``ValueError`` if it was trained on another base."""
    settings = json.loads((directory / ADAPTER_SETTINGS).read_text())
    if settings.get("base_sha256") != identity.sha256:
        raise ValueError(f"this LoRA was trained on base '{settings.get('base_dir_name')}' "
                         f"(sha256 {str(settings.get('base_sha256'))[:12]}…), not on the configured base "
                         f"'{identity.dir_name}' (sha256 {identity.sha256[:12]}…)")
    raw = load_file(str(directory / ADAPTER_WEIGHTS))
    weights = {key.removeprefix("unet."): value for key, value in raw.items() if key.startswith("unet.")}
    if not weights:
        raise ValueError(f"{directory / ADAPTER_WEIGHTS} holds no UNet LoRA tensors")
    return LoraAdapter(name=name, weights=weights, rank=int(settings["rank"]), alpha=int(settings["alpha"]),
                       target_modules=tuple(settings["target_modules"]))


# ---------------------------------------------------------------------------------------------- the base


class OperatorBase:
    """The label's pipeline, loaded once; adapters are added to its UNet by name and switched per call."""

    def __init__(self, identity: BaseIdentity, unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: Any,
                 tokenizer: Any, scheduler_config: Any) -> None:
        self.identity = identity
        self.unet = unet.eval()
        self.vae = vae.eval()
        self.image_size = int(unet.config["sample_size"]) * 2 ** (len(vae.config["block_out_channels"]) - 1)
        self.codec = VaeLatentCodec(vae, self.image_size)
        self.prompt_encoder = ClipPromptEncoder(tokenizer, text_encoder, {
            "kind": "clip", "source": "operator base", "base_sha256": identity.sha256,
            "weights_sha256": {k: v for k, v in identity.files.items() if k.startswith("text_encoder/")},
        })
        self.scheduler = render_scheduler(scheduler_config)
        # Held for each adapter switch + UNet call, so concurrent renders never run with another artist's adapter.
        self.lock = threading.RLock()
        self._loaded: OrderedDict[str, LoraAdapter] = OrderedDict()  # name → the adapter attached under it
        self._active: str | None = None

    @classmethod
    def load(cls, identity: BaseIdentity, *, device: torch.device | None = None,
             dtype: torch.dtype | None = None) -> OperatorBase:
        """Load every component from the base directory (local files only; the caller checked it)."""
        from transformers import CLIPTextModel, CLIPTokenizer

        path = identity.directory
        best_device, best_dtype = ArtworkDiffusionPipeline.best_device()
        device, dtype = device or best_device, dtype or best_dtype
        unet = UNet2DConditionModel.from_pretrained(path / "unet", local_files_only=True, use_safetensors=True,
                                                    torch_dtype=dtype)
        # The VAE stays float32 even on CUDA: SD-class VAEs overflow in half precision.
        vae = AutoencoderKL.from_pretrained(path / "vae", local_files_only=True, use_safetensors=True)
        text_encoder = CLIPTextModel.from_pretrained(path / "text_encoder", local_files_only=True,
                                                     use_safetensors=True, dtype=dtype)
        tokenizer = CLIPTokenizer.from_pretrained(path / "tokenizer", local_files_only=True)
        scheduler_config = DDIMScheduler.load_config(path / "scheduler", local_files_only=True)
        unet.to(device=device)
        vae.to(device=device)
        text_encoder.to(device=device)  # type: ignore[call-arg]
        return cls(identity, unet, vae, text_encoder, tokenizer, scheduler_config)

    @property
    def adapter_names(self) -> list[str]:
        with self.lock:
            return list(self._loaded)

    def _add(self, adapter: LoraAdapter) -> None:
        from peft import set_peft_model_state_dict

        # Adapters are attached on first use, i.e. inside a render's inference mode; their parameters must still
        # be ordinary tensors, because peft later toggles requires_grad on them (e.g. when another is deleted).
        with torch.inference_mode(False), warnings.catch_warnings():
            # peft warns that a second adapter makes a multi-adapter model: that is the point here.
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            self.unet.add_adapter(adapter.peft_config(), adapter_name=adapter.name)
            result = set_peft_model_state_dict(self.unet, adapter.weights, adapter_name=adapter.name)
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
        if unexpected:
            self.unet.delete_adapters(adapter.name)
            raise ValueError(f"LoRA {adapter.name} does not fit this base's UNet (e.g. {unexpected[0]})")
        self._loaded[adapter.name] = adapter
        # A bounded number stay attached; the oldest idle one is detached (its view re-adds it when used again).
        while len(self._loaded) > MAX_LOADED_ADAPTERS:
            oldest = next(name for name in self._loaded if name != adapter.name)
            self.drop_adapter(oldest)

    def drop_adapter(self, name: str) -> None:
        """Detach an adapter (e.g. its model was withdrawn); its view re-adds it if it is used again."""
        with self.lock:
            if name not in self._loaded:
                return
            del self._loaded[name]
            # peft may switch the layers to another adapter when deleting: the next call re-applies its own.
            self._active = _UNKNOWN
            with torch.inference_mode(False), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Adapter .* was active which is now deleted")
                self.unet.delete_adapters(name)

    def activate(self, adapter: LoraAdapter | None) -> None:
        """Make ``adapter`` the UNet's only active adapter (None: the bare base). Call with :attr:`lock` held."""
        name = adapter.name if adapter is not None else None
        added = adapter is not None and self._loaded.get(adapter.name) is not adapter
        if adapter is not None and added:
            self.drop_adapter(adapter.name)  # another adapter under this name (e.g. a model re-imported): replace
            self._add(adapter)
        if name == self._active and not added:
            if name is not None:
                self._loaded.move_to_end(name)
            return
        if name is None:
            if self._loaded:  # with no adapter attached the UNet already is the bare base
                self.unet.disable_adapters()
        else:
            self.unet.enable_adapters()
            self.unet.set_adapters(name)
            self._loaded.move_to_end(name)
        self._active = name

    def pipeline(self, adapter: LoraAdapter | None) -> LoraArtworkPipeline:
        return LoraArtworkPipeline(self, adapter)


_UNKNOWN = "\x00unknown"  # no adapter name: forces the next activate() to set the layers' state again
_BASES: dict[str, OperatorBase] = {}
_BASES_LOCK = threading.Lock()


def shared_base(identity: BaseIdentity) -> OperatorBase:
    """The process's one loaded copy of this base (loaded on first use; a changed base is a new identity)."""
    with _BASES_LOCK:
        base = _BASES.get(identity.sha256)
        if base is None:
            _BASES.clear()  # the operator replaced the base: the old one is no longer configured
            base = _BASES[identity.sha256] = OperatorBase.load(identity)
        return base


def loaded_bases() -> list[OperatorBase]:
    with _BASES_LOCK:
        return list(_BASES.values())


# ---------------------------------------------------------------------------------------------- rendering


@dataclass
class _Output:
    sample: torch.Tensor


class AdapterBoundUNet:
    """The base UNet with one artist's adapter: each call activates the adapter and denoises under the base's lock.

    It accepts the built-in pipeline's call (``encoder_hidden_states`` with an extra axis of one, a
    ``class_labels`` the SD UNet has no use for), so the same sampling loops drive both kinds.
    """

    def __init__(self, base: OperatorBase, adapter: LoraAdapter | None) -> None:
        self.base = base
        self.adapter = adapter

    def parameters(self) -> Any:
        return self.base.unet.parameters()

    def eval(self) -> AdapterBoundUNet:
        return self

    def __call__(self, sample: torch.Tensor, timestep: torch.Tensor | int, *, encoder_hidden_states: torch.Tensor,
                 class_labels: torch.Tensor | None = None) -> _Output:
        del class_labels
        states = encoder_hidden_states
        if states.ndim == 4:  # [B, 1, tokens, D] from the built-in convention
            states = states.squeeze(1)
        with self.base.lock:
            self.base.activate(self.adapter)
            out = self.base.unet(sample, timestep, encoder_hidden_states=states).sample
        return _Output(sample=out)


class LoraArtworkPipeline(ArtworkDiffusionPipeline):
    """One artist's LoRA on the shared operator base (or the bare base with ``adapter=None``)."""

    def __init__(self, base: OperatorBase, adapter: LoraAdapter | None) -> None:
        # Deliberately not calling super().__init__: the components are the shared base's, bound to the adapter.
        self.base = base
        self.adapter = adapter
        self.unet = AdapterBoundUNet(base, adapter)  # type: ignore[assignment]
        self.scheduler = base.scheduler
        self.text_encoder = base.prompt_encoder  # type: ignore[assignment]
        self.codec = base.codec  # type: ignore[assignment]

    @property
    def adapter_name(self) -> str | None:
        return self.adapter.name if self.adapter is not None else None

    @property
    def min_output_size(self) -> int:
        return MIN_OUTPUT_SIZE  # frames render at the base's native size, then are resized for display

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> LoraArtworkPipeline:
        raise NotImplementedError("the operator base is shared by every LoRA model; it is placed when loaded")

    def unconditional(self, cond: torch.Tensor) -> torch.Tensor:
        # SD-class UNets learned the empty prompt's CLIP embedding as "unconditional", not a zero vector.
        empty = self.base.prompt_encoder.encode([""])
        return empty.to(device=cond.device, dtype=cond.dtype).expand_as(cond)


# ---------------------------------------------------------------------------------------------- training


@dataclass
class TrainedLora:
    weights: dict[str, torch.Tensor]
    pipeline: LoraArtworkPipeline  # the private training copy with the new adapter, for the sample grid
    image_size: int


def train_lora(identity: BaseIdentity, examples: Sequence[TrainingExample], config: LoraTrainingConfig, *,
               progress: ProgressCallback | None = None, should_stop: Callable[[], bool] | None = None,
               ) -> TrainedLora:
    """Train a LoRA on ``examples`` alone; the base's own weights are frozen and never written anywhere."""
    require_training_examples(examples)
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    device = ArtworkDiffusionPipeline.best_device()[0]
    # A private float32 copy: training must not switch adapters under live renders, and half-precision LoRA
    # gradients underflow.
    base = OperatorBase.load(identity, device=device, dtype=torch.float32)
    unet = base.unet
    unet.requires_grad_(False)
    base.vae.requires_grad_(False)
    base.prompt_encoder.text_encoder.requires_grad_(False)
    torch.manual_seed(config.seed)  # LoRA A matrices are drawn from the global generator
    name = "new_adapter"  # not "training": adapter names become attributes of nn.Module containers
    unet.add_adapter(LoraConfig(r=config.rank, lora_alpha=config.alpha, target_modules=list(config.target_modules),
                                init_lora_weights=True), adapter_name=name)
    trainable = [p for p in unet.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(config.seed)
    codec = base.codec
    # Each artwork and its mirror image, encoded once: the VAE is frozen, so its latents never change.
    pixels = torch.stack([codec.to_pixels(e.image) for e in examples])
    latents = codec.encode(torch.cat([pixels, pixels.flip(-1)]))
    captions = base.prompt_encoder.encode([e.caption for e in examples])
    captions = torch.cat([captions, captions])
    empty = base.prompt_encoder.encode([""])
    scheduler = render_scheduler(base.scheduler.config)
    prediction = scheduler.config["prediction_type"]
    timesteps = int(scheduler.config["num_train_timesteps"])
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=1e-2)

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        done = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * done))

    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    unet.train()
    loss_ema = float("nan")
    for step in range(config.steps):
        if should_stop is not None and should_stop():
            raise TrainingStopped("training was stopped (the model was withdrawn)")
        picks = torch.randint(0, len(latents), (config.batch_size,), generator=generator)
        clean = latents[picks]
        cond = captions[picks].clone()
        drop = torch.rand(config.batch_size, generator=generator) < config.caption_dropout
        cond[drop] = empty[0]  # the unconditional case, for classifier-free guidance
        noise = torch.randn(clean.shape, generator=generator)
        t = torch.randint(0, timesteps, (config.batch_size,), generator=generator)
        noisy = scheduler.add_noise(clean, noise, t)  # type: ignore[arg-type]
        if prediction == "epsilon":
            target = noise
        elif prediction == "v_prediction":
            target = scheduler.get_velocity(clean, noise, t)  # type: ignore[arg-type]
        else:
            target = clean
        pred = unet(noisy.to(device), t.to(device), encoder_hidden_states=cond.to(device)).sample
        loss = torch.nn.functional.mse_loss(pred.float(), target.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        lr_schedule.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(f"training diverged at step {step + 1} (loss {value})")
        loss_ema = value if math.isnan(loss_ema) else 0.9 * loss_ema + 0.1 * value
        if progress is not None:
            progress(step + 1, config.steps, loss_ema)
    unet.eval()
    weights = {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(unet, adapter_name=name).items()}
    adapter = LoraAdapter(name=name, weights=weights, rank=config.rank, alpha=config.alpha,
                          target_modules=config.target_modules)
    base._loaded[name] = adapter  # already attached by add_adapter above
    base._active = name
    return TrainedLora(weights=weights, pipeline=base.pipeline(adapter), image_size=base.image_size)
