"""Live frames: image→image from each fan's previous frame, many fans in one batched model call.

:func:`render_frames` is the live counterpart of calling :class:`ArtworkDiffusionPipeline` with a list of
prompts. It differs in the two ways a live loop needs:

* it takes prompt *embeddings*, so a new prompt can be blended in over a few frames (the embedding is
  interpolated, see :class:`PromptBlend`), and
* every frame has its own strength (audio-reactive: louder music transforms the picture more) and its own
  seeded generator.

With the zero-terminal-SNR DDIM schedule and trailing timesteps, a frame at strength ``s`` runs the last
``round(steps × s)`` of the ``steps`` timesteps. All frames therefore end on the same timesteps, so the loop
walks the schedule once, and at each timestep runs the UNet once on every frame that has started. A frame's
result depends only on its own request — never on which other fans shared the call — up to float rounding
in the batched matrix products (well under one 8-bit pixel level).
"""

from __future__ import annotations

import functools
import io
import os
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:  # torch and diffusers load with the first live visual model, not when the app starts
    import torch

    from remix.visuals.pipeline import ArtworkDiffusionPipeline

BLEND_FRAMES = 4
MIN_STRENGTH, MAX_STRENGTH = 0.3, 0.8
JPEG_QUALITY = 80


@dataclass(frozen=True)
class FrameRequest:
    """One fan's next frame. ``init`` is the previous frame's pixels ``[3,S,S]`` in [-1, 1] (None: from noise)."""

    embedding: torch.Tensor
    init: torch.Tensor | None
    strength: float
    seed: int
    steps: int = 4
    output_size: int = 256
    # The previous frame's latents when the model's codec is an autoencoder (FrameResult.latents): the frame
    # continues from them instead of re-encoding ``init``, which saves the encoder and avoids the small loss
    # an autoencoder round trip adds on every frame (it would accumulate over a session).
    init_latents: torch.Tensor | None = None


@dataclass(frozen=True)
class FrameResult:
    jpeg: bytes
    pixels: torch.Tensor  # [3,S,S] in [-1, 1]: the next frame's init
    latents: torch.Tensor | None = None  # [C,H,W] before decoding (autoencoder codecs only): the next init_latents


def strength_for_energy(energy: float) -> float:
    """Audio-reactive strength: ``energy`` in [0, 1] (0 silence, 1 full-scale) → strength in [0.3, 0.8]."""
    return MIN_STRENGTH + (MAX_STRENGTH - MIN_STRENGTH) * min(1.0, max(0.0, energy))


class PromptBlend:
    """The prompt embedding a session renders with, moving to a new prompt over ``frames`` frames."""

    def __init__(self, frames: int = BLEND_FRAMES) -> None:
        self.frames = frames
        self.current: torch.Tensor | None = None
        self._start: torch.Tensor | None = None
        self._target: torch.Tensor | None = None
        self._step = 0

    def set_target(self, embedding: torch.Tensor) -> None:
        if self.current is None:  # nothing on screen yet: start at the prompt
            self.current = self._start = self._target = embedding
            self._step = self.frames
            return
        self._start, self._target, self._step = self.current, embedding, 0

    @property
    def blending(self) -> bool:
        return self._step < self.frames

    def next(self) -> torch.Tensor:
        """The embedding for the next frame (and advance the blend)."""
        if self._target is None or self._start is None:
            raise RuntimeError("no prompt set")
        import torch

        if self._step < self.frames:
            self._step += 1
            alpha = self._step / self.frames
            # Linear interpolation: the empty prompt is the zero vector, which spherical interpolation cannot use.
            self.current = torch.lerp(self._start, self._target, alpha)
        else:
            self.current = self._target
        return self.current


def embed_prompt(pipeline: ArtworkDiffusionPipeline, prompt: str) -> torch.Tensor:
    """The prompt's embedding, encoded once per prompt and text encoder (LRU, :mod:`remix.visuals.gpu`)."""
    from remix.visuals.gpu import cached_prompt_embedding

    return cached_prompt_embedding(pipeline, prompt)


def render_frames(pipeline: ArtworkDiffusionPipeline, requests: Sequence[FrameRequest]) -> list[FrameResult]:
    """Render one frame per request in one batched pass (see the module docstring)."""
    import torch

    if not requests:
        return []
    with torch.inference_mode():
        return _render_frames(pipeline, requests)


def _render_frames(pipeline: ArtworkDiffusionPipeline, requests: Sequence[FrameRequest]) -> list[FrameResult]:
    import torch
    from torch.profiler import record_function  # labels for `benchmarks/visual_fps.py --profile`

    from remix.visuals.gpu import live_runtime

    steps = requests[0].steps
    if any(r.steps != steps for r in requests):
        raise ValueError("every frame of a batch must use the same number of steps")
    # Placement, the codec (full VAE or tiny autoencoder), bucket padding and the compiled UNet: GPU mode.
    runtime = live_runtime(pipeline)
    device = runtime.device
    codec = runtime.codec
    scheduler = _live_scheduler(pipeline.scheduler, steps)
    timesteps = scheduler.timesteps
    shape = (codec.latent_channels, codec.latent_size, codec.latent_size)
    # Per-frame CPU generators: the same seed gives the same noise alone or in any batch, on any device.
    noise = torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(r.seed)) for r in requests])
    noise = noise.to(device)
    first_step = [0 if r.init is None and r.init_latents is None
                  else steps - max(1, min(steps, round(steps * r.strength))) for r in requests]
    cond = torch.stack([r.embedding.float() for r in requests]).to(device=device)
    # A frame continues from its previous frame's latents where it has them; every other previous frame is
    # encoded in one codec call (the LoRA base's VAE batches like the UNet does). On a GPU the previous frame
    # is still on the device (see below) and its latents stay there.
    starts: dict[int, torch.Tensor] = {}
    for i, r in enumerate(requests):
        if r.init_latents is not None and tuple(r.init_latents.shape) == shape and runtime.latent_feedback:
            starts[i] = r.init_latents.to(device=device, dtype=torch.float32).unsqueeze(0)
    to_encode = [i for i, r in enumerate(requests) if r.init is not None and i not in starts]
    if to_encode:
        with record_function("live.encode"):
            encoded = runtime.encode(torch.stack([requests[i].init.to(device).float()  # type: ignore[union-attr]
                                                  for i in to_encode]))
        starts.update({i: encoded[row:row + 1] for row, i in enumerate(to_encode)})
    latents: list[torch.Tensor | None] = [None] * len(requests)
    for index, t in enumerate(timesteps):
        for i in range(len(requests)):
            if first_step[i] == index:
                start_noise = noise[i:i + 1]
                latents[i] = start_noise if i not in starts else scheduler.add_noise(starts[i], start_noise,
                                                                                     t.reshape(1))
        active = [i for i in range(len(requests)) if latents[i] is not None]
        if not active:  # every frame starts later (image→image at low strength)
            continue
        # Latents stay on the device in float32 between steps; only the UNet runs in the pipeline's precision.
        batch = torch.cat([x for x in latents if x is not None])
        with record_function("live.unet"):
            out = runtime.denoise(pipeline.unet, batch, t, cond[active])
        stepped = scheduler.step(out, t, batch).prev_sample
        for row, i in enumerate(active):
            latents[i] = stepped[row:row + 1]
    finals = torch.cat([x for x in latents if x is not None])
    with record_function("live.decode"):
        pixels = runtime.decode(finals).clamp(-1, 1)  # one decode for the whole batch
    sizes = [r.output_size for r in requests]
    with record_function("live.jpeg"):
        jpegs = _device_jpegs(pixels, sizes) if pixels.device.type == "cuda" else None
        if jpegs is None:
            pixels = pixels.cpu()
            frames = list(zip(pixels, sizes, strict=True))
            # PIL resizes and encodes without the GIL: at GPU frame rates, one thread would cap the frames/s.
            jpegs = list(_jpeg_pool().map(_frame_jpeg, frames)) if len(frames) > 1 else [_frame_jpeg(frames[0])]
    # On a GPU the pixels stay there: the fan's next frame starts from them without a round trip through the
    # host (remix.scale's wire format moves them to the CPU when a worker sends them back).
    feedback = finals if runtime.latent_feedback else [None] * len(requests)
    return [FrameResult(jpeg=jpeg, pixels=p.clone(), latents=None if z is None else z.clone())
            for jpeg, p, z in zip(jpegs, pixels, feedback, strict=True)]


def warm_up_buckets(pipeline: ArtworkDiffusionPipeline, *, max_batch: int, steps: int,
                    output_size: int) -> tuple[int, ...]:
    """Render one throwaway batch at every bucket size a batch of up to ``max_batch`` frames can take, so a
    compiled UNet (and tiny autoencoder) has built each graph before the first fan's frame arrives; returns the
    sizes warmed, none when the UNet is not compiled (eager runs need no warming).

    Compiling one bucket of an SD-turbo-sized UNet takes about a minute on an H100; without this, the first
    fans after a worker starts, and the first time 3, 5, 9 or 17 fans share a model, would wait that long
    for a frame. Each batch starts from pixels (the encoder's graph) and is then continued from its own
    latents, as a fan's second frame is, so every shape a live frame can take is built. With LoRA models,
    each adapter is its own set of graphs: warm each model."""
    import torch

    from remix.visuals.gpu import bucket_for, live_runtime

    runtime = live_runtime(pipeline)
    if runtime.mode.compile == "off" or not runtime.buckets:
        return ()
    largest = bucket_for(min(max_batch, runtime.buckets[-1]), runtime.buckets)
    sizes = tuple(b for b in runtime.buckets if b <= largest)
    embedding = embed_prompt(pipeline, "")
    grey = torch.zeros((3, runtime.codec.image_size, runtime.codec.image_size))
    for size in sizes:
        first = [FrameRequest(embedding=embedding, init=grey, strength=0.5, seed=i, steps=steps,
                              output_size=output_size) for i in range(size)]
        frames = render_frames(pipeline, first)
        render_frames(pipeline, [FrameRequest(embedding=embedding, init=f.pixels, init_latents=f.latents,
                                              strength=0.5, seed=i, steps=steps, output_size=output_size)
                                 for i, f in enumerate(frames)])
    return sizes


_SCHEDULERS: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()
_SCHEDULERS_LOCK = threading.Lock()


def _live_scheduler(template: Any, steps: int) -> Any:
    """A DDIM scheduler with ``template``'s configuration set to ``steps`` timesteps, made once per model and step
    count: building one costs more host time than a GPU frame. Shared across threads, which is safe because
    ``step`` and ``add_noise`` keep no per-call state."""
    from diffusers.schedulers.scheduling_ddim import DDIMScheduler

    with _SCHEDULERS_LOCK:
        by_steps = _SCHEDULERS.setdefault(template, {})
        scheduler = by_steps.get(steps)
        if scheduler is None:
            scheduler = by_steps[steps] = DDIMScheduler.from_config(template.config)
            scheduler.set_timesteps(steps)
        return scheduler


def _device_jpegs(pixels: torch.Tensor, sizes: Sequence[int]) -> list[bytes] | None:
    """JPEGs encoded on the GPU (nvJPEG through torchvision, when installed): a CPU encoder takes a few ms per
    512² frame, which at GPU frame rates would be the bottleneck. None: no torchvision, use PIL."""
    try:
        from torchvision.io import encode_jpeg
    except ImportError:
        return None
    import torch

    images = []
    for frame, size in zip(pixels, sizes, strict=True):
        if frame.shape[-1] != size:
            frame = torch.nn.functional.interpolate(frame[None], size=(size, size), mode="bicubic",
                                                    antialias=True, align_corners=False)[0]
        images.append(((frame + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8))
    encoded = encode_jpeg(images, quality=JPEG_QUALITY)
    return [bytes(data.cpu().numpy()) for data in encoded]


def _frame_jpeg(frame: tuple[torch.Tensor, int]) -> bytes:
    from remix.visuals.pipeline import to_image

    return encode_jpeg(to_image(*frame))


@functools.cache
def _jpeg_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1), thread_name_prefix="frame-jpeg")


def encode_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
