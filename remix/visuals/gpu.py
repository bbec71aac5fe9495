"""GPU mode of the live renderer: placement, compiled UNet with static shapes, tiny autoencoder, prompt cache.

:func:`remix.live.visual.render_frames` renders every live frame (in the API process and on ``remix worker``).
It asks :func:`live_runtime` for the pipeline's :class:`LiveRuntime`, which is prepared once per UNet module
(a LoRA model's runtime is its shared base's, so all artists on one base share one compiled UNet):

* **placement** — ``REMIX_VISUAL_DEVICE`` (``auto``: CUDA when present; ``cpu``; ``cuda``). CUDA runs the UNet,
  CLIP and the tiny autoencoder in float16 with channels-last memory; the CPU runs float32, unchanged. Asking
  for ``cuda`` where there is none logs a warning and renders on the CPU, as before.
* **static shapes** — the UNet is called with the batch padded up to one of :data:`BATCH_BUCKETS` (the padding
  rows are copies of the last real frame and are thrown away), so ``torch.compile`` sees at most six shapes
  instead of one per number of fans. Padding is on whenever the UNet is compiled.
* **compile** — ``REMIX_VISUAL_COMPILE``: ``off`` (default), ``default``, ``max-autotune``, or
  ``reduce-overhead`` (CUDA graphs, which hold here because shapes are static and inputs live on the GPU).
  The UNet module is compiled in place (``nn.Module.compile``, ``dynamic=False``). With LoRA adapters, each
  active adapter is another graph (peft's layers branch on it), hence the raised recompile limit.
* **tiny autoencoder** — ``REMIX_VISUAL_TINY_VAE``: a local diffusers ``AutoencoderTiny`` directory (TAESD
  class, safetensors, never downloaded) that live frames encode and decode with instead of the base's full
  VAE (about 10× cheaper to decode on a GPU). It must produce the base's latent shape; it is not used for the
  built-in kind, whose codec is a weightless patch fold already.
* **prompt cache** — :func:`cached_prompt_embedding`: the embeddings of the last :data:`PROMPT_CACHE_SIZE`
  prompts per text encoder (LRU), so many fans typing the same prompt encode it once.

A fan's frame never depends on who shares its batch: every frame has its own seeded CPU noise, and padding
rows are copies that are discarded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from remix.visuals.pipeline import AutoencoderLatentCodec

if TYPE_CHECKING:
    from remix.config import Settings
    from remix.visuals.pipeline import ArtworkDiffusionPipeline

logger = logging.getLogger(__name__)

DeviceSetting = Literal["auto", "cpu", "cuda"]
CompileSetting = Literal["off", "default", "reduce-overhead", "max-autotune"]
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)
PROMPT_CACHE_SIZE = 256
RECOMPILE_LIMIT = 64  # buckets × adapters in use on one base; beyond it dynamo runs that case eagerly
TINY_VAE_SETTING = "REMIX_VISUAL_TINY_VAE"


@dataclass(frozen=True)
class RenderMode:
    """How live frames are rendered in this process (see the module docstring)."""

    device: DeviceSetting = "auto"
    compile: CompileSetting = "off"
    tiny_vae_dir: Path | None = None
    buckets: tuple[int, ...] | None = None  # None: pad to BATCH_BUCKETS only when compiled
    compile_backend: str | Callable[..., Any] = "inductor"  # tests trace with a counting backend

    @classmethod
    def from_settings(cls, settings: Settings) -> RenderMode:
        return cls(device=settings.visual_device, compile=settings.visual_compile,
                   tiny_vae_dir=settings.visual_tiny_vae)

    def placement(self) -> tuple[torch.device, torch.dtype]:
        """Where the UNet runs and in what precision."""
        if self.device != "cpu" and torch.cuda.is_available():
            return torch.device("cuda"), torch.float16
        if self.device == "cuda":
            _warn_once("REMIX_VISUAL_DEVICE=cuda but CUDA is not available: rendering on the CPU in float32")
        return torch.device("cpu"), torch.float32

    @property
    def padding_buckets(self) -> tuple[int, ...] | None:
        if self.buckets is not None:
            return self.buckets
        return BATCH_BUCKETS if self.compile != "off" else None


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        logger.warning(message)


_MODE: RenderMode | None = None
_MODE_LOCK = threading.Lock()


def current_mode() -> RenderMode:
    """The process's render mode, read from the settings on first use."""
    global _MODE
    with _MODE_LOCK:
        if _MODE is None:
            from remix.config import get_settings

            _MODE = RenderMode.from_settings(get_settings())
        return _MODE


def set_mode(mode: RenderMode | None) -> None:
    """Replace the process's render mode (None: read the settings again); prepared runtimes are forgotten."""
    global _MODE
    with _MODE_LOCK:
        _MODE = mode
        _RUNTIMES.clear()


def bucket_for(count: int, buckets: Sequence[int]) -> int:
    """The smallest bucket that holds ``count`` frames (callers split batches above the largest)."""
    return next(b for b in buckets if b >= count)


# ---------------------------------------------------------------------------------------------- tiny autoencoder


class TinyLatentCodec(AutoencoderLatentCodec):
    """``AutoencoderTiny`` as a codec, in the base VAE's scaled latent space (TAESD is trained to match it, so
    the same UNet denoises its latents)."""

    def __init__(self, vae: Any, image_size: int) -> None:
        config = vae.config
        super().__init__(vae.eval(), image_size,
                         int(config["upsampling_scaling_factor"]) ** (len(config["decoder_block_out_channels"]) - 1))
        self.scaling_factor = float(config["scaling_factor"])
        self.channels_last = True  # load_tiny_codec puts the weights in channels-last memory on a GPU

    def _encode_placed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(pixels).latents * self.scaling_factor

    def _decode_placed(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents / self.scaling_factor).sample


def load_tiny_codec(directory: Path, image_size: int, device: torch.device, dtype: torch.dtype) -> TinyLatentCodec:
    """Load an ``AutoencoderTiny`` from local safetensors only; ``ValueError`` naming the setting otherwise."""
    from diffusers.models.autoencoders.autoencoder_tiny import AutoencoderTiny

    path = directory.expanduser()
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise ValueError(f"{TINY_VAE_SETTING}={directory} is not an AutoencoderTiny directory "
                         "(config.json and .safetensors weights)")
    vae = AutoencoderTiny.from_pretrained(path, local_files_only=True, use_safetensors=True)
    vae.to(device=device, dtype=dtype)
    if device.type == "cuda":
        vae.to(memory_format=torch.channels_last)
    return TinyLatentCodec(vae, image_size)


# ---------------------------------------------------------------------------------------------- the runtime


class LiveRuntime:
    """One UNet's live-rendering setup: the codec live frames use, bucket padding and the (compiled) UNet call."""

    def __init__(self, pipeline: ArtworkDiffusionPipeline, mode: RenderMode) -> None:
        self.mode = mode
        self.device, self.dtype = pipeline.device, pipeline.dtype
        self.buckets = mode.padding_buckets
        self.channels_last = self.device.type == "cuda"
        self.codec: Any = pipeline.codec
        module = denoiser_module(pipeline)
        if self.channels_last:
            module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        options: dict[str, Any] = {"dynamic": False, "backend": mode.compile_backend}
        if mode.compile_backend == "inductor":
            options["mode"] = mode.compile
        if mode.compile != "off":
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
            # The UNet's 1×1 convolutions (projections in and out of every transformer block) as matrix products:
            # Inductor then fuses their bias and residual adds (PyTorch's recipe for compiling diffusion models).
            from torch._inductor import config as inductor_config

            inductor_config.conv_1x1_as_mm = True
            if getattr(module, "_compiled_call_impl", None) is None:  # once per module: a recompile costs minutes
                module.compile(**options)
        if mode.tiny_vae_dir is not None:
            self.codec = self._tiny_codec(pipeline, mode.tiny_vae_dir)
        # Autoencoder codecs are lossy: a frame continues from the previous frame's latents instead of
        # re-encoding its pixels. The built-in patch fold is exact, and its latents are the clamped pixels.
        self.latent_feedback = hasattr(self.codec, "vae")
        self._compiled_codec = False
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes are few and fixed: let cuDNN time its algorithms once
        if mode.compile != "off" and isinstance(self.codec, TinyLatentCodec):
            # The tiny autoencoder is small enough that kernel launches, not arithmetic, bound it: compile its
            # halves like the UNet (static bucket shapes, CUDA graphs under reduce-overhead).
            for half in (self.codec.vae.encoder, self.codec.vae.decoder):
                if getattr(half, "_compiled_call_impl", None) is None:
                    half.compile(**options)
            self._compiled_codec = True

    def _tiny_codec(self, pipeline: ArtworkDiffusionPipeline, directory: Path) -> Any:
        full = pipeline.codec
        if not hasattr(full, "vae"):  # the built-in patch fold: nothing to replace
            return full
        tiny = load_tiny_codec(directory, full.image_size, self.device, self.dtype)
        if (tiny.latent_channels, tiny.latent_size) != (full.latent_channels, full.latent_size):
            raise ValueError(f"{TINY_VAE_SETTING}={directory} makes {tiny.latent_channels}×{tiny.latent_size}² "
                             f"latents; the base's VAE makes {full.latent_channels}×{full.latent_size}²")
        return tiny

    def _attention(self) -> contextlib.AbstractContextManager[None]:
        """On CUDA, cuDNN's attention first: on an H100 it ran the SD-turbo-sized UNet 5 % faster than flash
        attention (eager, batch 32; 9 % at batch 1). A compiled UNet keeps the choice made when it was traced."""
        if self.device.type != "cuda":
            return contextlib.nullcontext()
        from torch.nn.attention import SDPBackend, sdpa_kernel

        order = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                 SDPBackend.MATH]
        return sdpa_kernel(order, set_priority=True)

    def _in_buckets(self, run: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        """``run`` over the batch rows of ``inputs`` (all the same length) in chunks of at most the largest bucket,
        each padded up to its bucket with copies of its last row (real inputs, and rows that are thrown away);
        one call when there are no buckets. The output is a new tensor (never a CUDA graph's reused buffer)."""
        if not self.buckets:
            return torch.cat([run(*inputs)])
        limit, outputs = self.buckets[-1], []
        for start in range(0, len(inputs[0]), limit):
            chunks = [x[start:start + limit] for x in inputs]
            count = len(chunks[0])
            size = bucket_for(count, self.buckets)
            if size > count:
                chunks = [torch.cat([x, x[-1:].expand(size - count, *x.shape[1:])]) for x in chunks]
            outputs.append(run(*chunks)[:count])
        return torch.cat(outputs)

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels → latents on the device (float32); bucket-padded when the codec is compiled."""
        if not self._compiled_codec:
            return self.codec.encode_on_device(pixels).to(self.device)
        return self._in_buckets(self.codec.encode_on_device, pixels).to(self.device)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents → pixels, left where the codec ran (float32); bucket-padded when the codec is compiled."""
        if not self._compiled_codec:
            return self.codec.decode_on_device(latents)
        return self._in_buckets(self.codec.decode_on_device, latents)

    def denoise(self, unet: Any, latents: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """One pass of ``unet`` (the pipeline's: a LoRA view activates its adapter on the shared module) over
        ``latents`` (float32, on the device), in chunks padded to the buckets; float32 out."""

        def run(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            x, c = x.to(dtype=self.dtype), c.to(dtype=self.dtype)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            # A device tensor with the batch's shape: a Python or CPU scalar would be baked into a compiled graph.
            t = timestep.to(self.device).expand(len(x))
            # The built-in calling convention (LoRA views accept it too): the embedding as one token + class labels.
            with self._attention():
                out: torch.Tensor = unet(x, t, encoder_hidden_states=c.unsqueeze(1), class_labels=c).sample
            return out.float()

        return self._in_buckets(run, latents, cond)

def denoiser_module(pipeline: ArtworkDiffusionPipeline) -> torch.nn.Module:
    """The ``nn.Module`` that denoises: the pipeline's UNet, or a LoRA view's shared base UNet."""
    base = getattr(pipeline, "base", None)
    module: torch.nn.Module = base.unet if base is not None else pipeline.unet
    return module


_RUNTIMES: weakref.WeakKeyDictionary[torch.nn.Module, LiveRuntime] = weakref.WeakKeyDictionary()
_RUNTIMES_LOCK = threading.Lock()


def live_runtime(pipeline: ArtworkDiffusionPipeline) -> LiveRuntime:
    """The pipeline's runtime, prepared on first use (per UNet module: LoRA views of one base share it)."""
    module = denoiser_module(pipeline)
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(module)
        if runtime is None:
            runtime = _RUNTIMES[module] = LiveRuntime(pipeline, current_mode())
        return runtime


# ---------------------------------------------------------------------------------------------- prompt cache


class PromptCache:
    """The last ``size`` prompts' embeddings (CPU float32), least recently used evicted first."""

    def __init__(self, size: int = PROMPT_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, encoder: Any, prompt: str) -> torch.Tensor:
        with self._lock:
            cached = self._entries.get(prompt)
            if cached is not None:
                self._entries.move_to_end(prompt)
                self.hits += 1
                return cached
        embedding: torch.Tensor = encoder.encode([prompt])[0].float().cpu()
        with self._lock:
            self.misses += 1
            self._entries[prompt] = embedding
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return embedding


_PROMPT_CACHES: weakref.WeakKeyDictionary[Any, PromptCache] = weakref.WeakKeyDictionary()


def prompt_cache(encoder: Any) -> PromptCache:
    with _RUNTIMES_LOCK:
        cache = _PROMPT_CACHES.get(encoder)
        if cache is None:
            cache = _PROMPT_CACHES[encoder] = PromptCache()
        return cache


def cached_prompt_embedding(pipeline: ArtworkDiffusionPipeline, prompt: str) -> torch.Tensor:
    """The prompt's embedding from the pipeline's text encoder, encoded once per prompt (LRU)."""
    return prompt_cache(pipeline.text_encoder).get(pipeline.text_encoder, prompt)
