"""The built-in artwork diffusion pipeline: text→image and image→image, diffusers style.

It works in a tiny, fixed "latent" space: a ``size×size`` RGB image is folded into ``patch×patch`` blocks
(``pixel_unshuffle``), e.g. 64×64×3 → 16×16×48. The fold is exact and has no weights, so the model has no
pretrained image component at all — every learned weight comes from the approved artwork — while the UNet
runs at 16×16, fast enough for live visuals on a CPU. Frames are upscaled for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from PIL import Image

from remix.visuals.text_encoder import SentenceEncoder

MAX_PROMPT_CHARS = 300
MAX_OUTPUT_SIZE = 1024


class PatchLatentCodec:
    """Folds images into patch channels and back; exact, weightless."""

    def __init__(self, image_size: int, patch_size: int) -> None:
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size

    @property
    def latent_channels(self) -> int:
        return 3 * self.patch_size**2

    @property
    def latent_size(self) -> int:
        return self.image_size // self.patch_size

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B,3,S,S]`` in [-1, 1] → ``[B,3p²,S/p,S/p]``."""
        return torch.nn.functional.pixel_unshuffle(pixels, self.patch_size)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pixel_shuffle(latents, self.patch_size)

    # The fold runs wherever its input is: "on device" is the same operation (the live loop's codec protocol).
    encode_on_device = encode
    decode_on_device = decode

    def to_pixels(self, image: Image.Image) -> torch.Tensor:
        return image_pixels(image, self.image_size)


class AutoencoderLatentCodec:
    """An autoencoder as a codec: pixels ``[B,3,S,S]`` in [-1, 1] ↔ latents ``[B,C,S/scale,S/scale]``.

    ``encode``/``decode`` take and give CPU float32, like the patch fold; the ``*_on_device`` forms leave the
    result on the autoencoder's device (the live loop keeps latents and frames there). Subclasses say how
    their model maps placed pixels to latents and back (:meth:`_encode_placed`, :meth:`_decode_placed`)."""

    channels_last = False  # weights in channels-last memory on a GPU: inputs are laid out the same way

    def __init__(self, vae: Any, image_size: int, scale: int) -> None:
        self.vae = vae
        self.image_size = image_size
        self.scale = scale

    @property
    def latent_channels(self) -> int:
        return int(self.vae.config["latent_channels"])

    @property
    def latent_size(self) -> int:
        return self.image_size // self.scale

    def _place(self, x: torch.Tensor) -> torch.Tensor:
        parameter = next(self.vae.parameters())
        x = x.to(device=parameter.device, dtype=parameter.dtype)
        # Inputs in the weights' layout spare a conversion in every layer.
        return x.contiguous(memory_format=torch.channels_last) if x.is_cuda and self.channels_last else x

    def _encode_placed(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode_placed(self, latents: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def encode_on_device(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._encode_placed(self._place(pixels)).float()

    @torch.no_grad()
    def decode_on_device(self, latents: torch.Tensor) -> torch.Tensor:
        return self._decode_placed(self._place(latents)).float()

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encode_on_device(pixels).cpu()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decode_on_device(latents).cpu()

    def to_pixels(self, image: Image.Image) -> torch.Tensor:
        return image_pixels(image, self.image_size)


def image_pixels(image: Image.Image, size: int) -> torch.Tensor:
    """A PIL image → ``[3,size,size]`` in [-1, 1] (centre-cropped to a square, resized): every codec's input."""
    square = center_square(image.convert("RGB")).resize((size, size), Image.Resampling.BICUBIC)
    array = np.asarray(square, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def center_square(image: Image.Image) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def make_scheduler() -> DDIMScheduler:
    """DDIM with zero-terminal-SNR betas and trailing timesteps: sampling in 2–8 steps starts from pure noise.

    The UNet predicts the clean image ("sample") rather than the noise: a small model trained on a handful of
    images then errs toward a smooth image instead of leaving grain in few-step samples.
    """
    return DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="sample",
        timestep_spacing="trailing", rescale_betas_zero_snr=True, clip_sample=False, set_alpha_to_one=True,
    )


@dataclass
class ArtworkPipelineOutput:
    """Rendered frames, already upscaled to the requested display size."""

    images: list[Image.Image]


class ArtworkDiffusionPipeline:
    """Renders frames from a prompt (and optionally the previous frame) with a UNet trained from scratch.

    Components: ``unet`` (denoiser conditioned on the prompt's sentence embedding through cross-attention and
    a projection added to the timestep embedding), ``scheduler`` (DDIM), ``text_encoder`` (MiniLM) and
    ``codec`` (the weightless patch fold). CUDA runs in half precision, CPU in float32.
    """

    def __init__(self, unet: UNet2DConditionModel, scheduler: DDIMScheduler, text_encoder: SentenceEncoder,
                 codec: PatchLatentCodec) -> None:
        self.unet = unet.eval()
        self.scheduler = scheduler
        self.text_encoder = text_encoder
        self.codec = codec

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> ArtworkDiffusionPipeline:
        # ModelMixin.to is wrapped by a decorator that hides its signature from type checkers; it also logs a
        # warning whenever a dtype is passed, so pass one only when it changes.
        if dtype is None or dtype == self.dtype:
            self.unet.to(device=device)  # type: ignore[call-arg]
        else:
            self.unet.to(device=device, dtype=dtype)  # type: ignore[call-arg]
        return self

    @property
    def min_output_size(self) -> int:
        """Frames are upscaled for display, never rendered below the model's own size."""
        return self.codec.image_size

    def unconditional(self, cond: torch.Tensor) -> torch.Tensor:
        """The embedding classifier-free guidance pushes away from: trained as the zero vector (caption dropout)."""
        return torch.zeros_like(cond)

    @classmethod
    def best_device(cls) -> tuple[torch.device, torch.dtype]:
        """CUDA in half precision when present (and ``REMIX_VISUAL_DEVICE`` allows it), else CPU float32."""
        from remix.visuals.gpu import current_mode

        return current_mode().placement()

    def check_inputs(self, prompt: str | Sequence[str], image: Image.Image | Sequence[Image.Image] | None,
                     strength: float, num_inference_steps: int, guidance_scale: float, output_size: int,
                     generator: torch.Generator | Sequence[torch.Generator] | None) -> list[str]:
        """Validate the arguments; raise ``ValueError`` naming the one that is wrong."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise ValueError("`prompt` must be a string or a non-empty list of strings")
        if any(len(p) > MAX_PROMPT_CHARS for p in prompts):
            raise ValueError(f"`prompt` is longer than {MAX_PROMPT_CHARS} characters")
        if image is not None:
            images = [image] if isinstance(image, Image.Image) else list(image)
            if len(images) != len(prompts):
                raise ValueError(f"`image` has {len(images)} frames for {len(prompts)} prompts")
            if not 0.0 < strength <= 1.0:
                raise ValueError(f"`strength` must be in (0, 1], got {strength}")
        if not 1 <= num_inference_steps <= 50:
            raise ValueError(f"`num_inference_steps` must be 1–50, got {num_inference_steps}")
        if not 1.0 <= guidance_scale <= 20.0:
            raise ValueError(f"`guidance_scale` must be 1–20, got {guidance_scale}")
        if not self.min_output_size <= output_size <= MAX_OUTPUT_SIZE:
            raise ValueError(f"`output_size` must be {self.min_output_size}–{MAX_OUTPUT_SIZE}, got {output_size}")
        if generator is not None and not isinstance(generator, torch.Generator) and len(generator) != len(prompts):
            raise ValueError(f"`generator` has {len(generator)} entries for {len(prompts)} prompts")
        return prompts

    def _noise(self, count: int, generator: torch.Generator | Sequence[torch.Generator] | None) -> torch.Tensor:
        # Drawn on the CPU so that the same seed gives the same frame on any device.
        shape = (self.codec.latent_channels, self.codec.latent_size, self.codec.latent_size)
        if generator is None or isinstance(generator, torch.Generator):
            return torch.randn((count, *shape), generator=generator)
        return torch.stack([torch.randn(shape, generator=g) for g in generator])

    @torch.inference_mode()
    def __call__(
        self,
        prompt: str | Sequence[str],
        image: Image.Image | Sequence[Image.Image] | None = None,
        *,
        strength: float = 0.5,
        num_inference_steps: int = 4,
        guidance_scale: float = 1.0,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        output_size: int = 256,
    ) -> ArtworkPipelineOutput:
        """Render one frame per prompt. With ``image`` (the previous frame), it is noised to ``strength``
        and denoised toward the prompt, so consecutive frames flow into each other."""
        prompts = self.check_inputs(prompt, image, strength, num_inference_steps, guidance_scale, output_size,
                                    generator)
        device, dtype = self.device, self.dtype
        count = len(prompts)
        cond = self.text_encoder.encode(prompts)
        if guidance_scale > 1.0:
            cond = torch.cat([self.unconditional(cond), cond])
        cond = cond.to(device=device, dtype=dtype)
        # A fresh scheduler per call: DDIM keeps per-call state, and frames render concurrently.
        scheduler = DDIMScheduler.from_config(self.scheduler.config)
        scheduler.set_timesteps(num_inference_steps)
        timesteps = scheduler.timesteps
        noise = self._noise(count, generator)
        if image is None:
            latents = noise
        else:
            frames = [image] if isinstance(image, Image.Image) else list(image)
            start = self.codec.encode(torch.stack([self.codec.to_pixels(f) for f in frames]))
            keep = max(1, min(num_inference_steps, round(num_inference_steps * strength)))
            timesteps = timesteps[num_inference_steps - keep:]
            latents = scheduler.add_noise(start, noise, timesteps[:1].repeat(count))
        latents = latents.to(device=device, dtype=dtype)
        for t in timesteps:
            model_in = torch.cat([latents, latents]) if guidance_scale > 1.0 else latents
            out = self.unet(model_in, t, encoder_hidden_states=cond.unsqueeze(1), class_labels=cond).sample
            if guidance_scale > 1.0:
                uncond, text = out.chunk(2)
                out = uncond + guidance_scale * (text - uncond)
            latents = scheduler.step(out, t, latents).prev_sample
        pixels = self.codec.decode(latents.float().cpu()).clamp(-1, 1)
        return ArtworkPipelineOutput(images=[to_image(p, output_size) for p in pixels])


def to_image(pixels: torch.Tensor, size: int) -> Image.Image:
    array = ((pixels.permute(1, 2, 0).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
    image = Image.fromarray(array)
    return image if image.width == size else image.resize((size, size), Image.Resampling.BICUBIC)
