"""Stable-Diffusion-shaped pipelines with random weights, built from configs in code: nothing is downloaded.

Tests use one as the operator base (``REMIX_VISUAL_BASE_DIR``), saved with ``StableDiffusionPipeline.save_pretrained``
in the directory layout an operator ships; benchmarks time the real architectures, whose speed depends on the
shapes, not on the weights. The components are diffusers' and transformers' own classes (UNet2DConditionModel,
AutoencoderKL, AutoencoderTiny, CLIPTextModel, CLIPTokenizer, an Euler scheduler with trailing timesteps like
SD-turbo's). A :class:`PipelineSize` holds everything that decides the module shapes; :data:`SIZES` names the
ones in use. Under one seed the same size always gives the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.autoencoders.autoencoder_tiny import AutoencoderTiny
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline
from diffusers.schedulers.scheduling_euler_discrete import EulerDiscreteScheduler
from tokenizers import pre_tokenizers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

# TAESD's own configuration: four ×2 stages, like an SD VAE's ×8.
TAESD_CHANNELS = (64, 64, 64, 64)
TAESD_BLOCKS = (1, 3, 3, 3)


@dataclass(frozen=True)
class PipelineSize:
    """The shapes of a random SD-style pipeline.

    As in SD, every UNet level has cross-attention except the deepest, the UNet cross-attends to the text
    encoder's hidden states, and the VAE (like the tiny autoencoder) halves the frame side once per level after
    the first. ``text_vocab`` None means the byte-level tokenizer of :func:`byte_level_clip_tokenizer` and its
    vocabulary; a number is CLIP's own vocabulary, for which no tokenizer can be built offline.
    """

    latent_size: int
    unet_channels: tuple[int, ...]
    unet_layers_per_block: int
    attention_head_dim: int | tuple[int, ...]
    vae_channels: tuple[int, ...]
    vae_layers_per_block: int
    text_hidden: int
    text_intermediate: int
    text_heads: int
    text_layers: int
    tokens: int  # the text encoder's context
    text_vocab: int | None = None
    text_activation: str = "quick_gelu"
    linear_projection: bool = False  # SD 2.x projects attention inputs with a linear layer, SD 1.x with a 1×1 conv
    tiny_autoencoder_channels: tuple[int, ...] = TAESD_CHANNELS
    tiny_autoencoder_blocks: tuple[int, ...] = TAESD_BLOCKS  # the encoder's; the decoder mirrors them

    @property
    def image_size(self) -> int:
        return self.latent_size * 2 ** (len(self.vae_channels) - 1)


SIZES: dict[str, PipelineSize] = {
    # CPU tests: 32² frames, a 2-level UNet (~1 M parameters) and a 16-token context (SD's 77 is slower here).
    "tiny": PipelineSize(
        latent_size=16, unet_channels=(32, 64), unet_layers_per_block=1, attention_head_dim=8,
        vae_channels=(32, 64), vae_layers_per_block=1, text_hidden=32, text_intermediate=37, text_heads=4,
        text_layers=2, tokens=16, tiny_autoencoder_channels=(16, 16), tiny_autoencoder_blocks=(1, 1)),
    # SD's depth (×8 VAE, 3-level UNet, 77 tokens) at small widths: 256² frames that a CPU renders in seconds.
    "small": PipelineSize(
        latent_size=32, unet_channels=(64, 128, 256), unet_layers_per_block=1, attention_head_dim=8,
        vae_channels=(32, 64, 64, 64), vae_layers_per_block=1, text_hidden=256, text_intermediate=1024,
        text_heads=4, text_layers=4, tokens=77),
    # SD-turbo (SD 2.1): the 865 M-parameter UNet at 64² latents / 512² frames, the OpenCLIP-H-sized text encoder.
    "sd-turbo": PipelineSize(
        latent_size=64, unet_channels=(320, 640, 1280, 1280), unet_layers_per_block=2,
        attention_head_dim=(5, 10, 20, 20), linear_projection=True, vae_channels=(128, 256, 512, 512),
        vae_layers_per_block=2, text_hidden=1024, text_intermediate=4096, text_heads=16, text_layers=23, tokens=77,
        text_vocab=49408, text_activation="gelu"),
}


@dataclass
class RandomComponents:
    size: PipelineSize
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer | None  # None for CLIP's own vocabulary
    scheduler: EulerDiscreteScheduler
    tiny_autoencoder: AutoencoderTiny | None  # built only when asked for


def byte_level_clip_tokenizer(max_length: int) -> CLIPTokenizer:
    """A byte-level BPE vocabulary of single characters (plus word-final forms) and a few merges."""
    chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    merges = ["c a", "ca t</w>", "t h", "th e</w>", "o r", "a n", "an g", "ang e</w>"]
    for token in [*chars, *(c + "</w>" for c in chars), *(m.replace(" ", "") for m in merges)]:
        vocab.setdefault(token, len(vocab))
    pairs = [tuple(m.split(" ")) for m in merges]
    # The annotation says strings, but the tokenizers backend takes merges as pairs only.
    return CLIPTokenizer(vocab=vocab, merges=pairs, model_max_length=max_length)  # type: ignore[arg-type]


def resolve_size(size: str | PipelineSize) -> PipelineSize:
    if isinstance(size, PipelineSize):
        return size
    if size not in SIZES:
        raise ValueError(f"unknown pipeline size {size!r}: the sizes are {', '.join(SIZES)}")
    return SIZES[size]


def random_components(size: str | PipelineSize, *, seed: int = 0, with_tiny_autoencoder: bool = False,
                      device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> RandomComponents:
    """Every component of a pipeline of ``size`` (a :data:`SIZES` name or a size), with random weights, in eval mode.

    The weights are drawn on the CPU from ``torch.manual_seed(seed)``, in a fixed order (UNet, VAE, tiny
    autoencoder, text encoder), so they do not depend on ``device``. ``dtype`` applies to the UNet and the text
    encoder; the VAE and the tiny autoencoder stay float32, as ``OperatorBase.load`` keeps the VAE (SD-class VAEs
    overflow in half precision).
    """
    shape = resolve_size(size)
    levels = len(shape.unet_channels)
    down_blocks = ("CrossAttnDownBlock2D",) * (levels - 1) + ("DownBlock2D",)
    up_blocks = ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (levels - 1)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=shape.latent_size, in_channels=4, out_channels=4, layers_per_block=shape.unet_layers_per_block,
        block_out_channels=shape.unet_channels, down_block_types=down_blocks, up_block_types=up_blocks,
        cross_attention_dim=shape.text_hidden, attention_head_dim=shape.attention_head_dim,
        use_linear_projection=shape.linear_projection)
    vae_levels = len(shape.vae_channels)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=shape.vae_channels,
        layers_per_block=shape.vae_layers_per_block, down_block_types=("DownEncoderBlock2D",) * vae_levels,
        up_block_types=("UpDecoderBlock2D",) * vae_levels, sample_size=shape.image_size)
    tiny_autoencoder = None
    if with_tiny_autoencoder:
        tiny_autoencoder = AutoencoderTiny(
            encoder_block_out_channels=shape.tiny_autoencoder_channels,
            decoder_block_out_channels=shape.tiny_autoencoder_channels,
            num_encoder_blocks=shape.tiny_autoencoder_blocks,
            num_decoder_blocks=tuple(reversed(shape.tiny_autoencoder_blocks))).eval()
    tokenizer: CLIPTokenizer | None
    special_ids: dict[str, Any]
    if shape.text_vocab is None:
        tokenizer = byte_level_clip_tokenizer(shape.tokens)
        vocab, special_ids = len(tokenizer), {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    else:  # CLIP's own vocabulary keeps CLIPTextConfig's special ids
        tokenizer, vocab, special_ids = None, shape.text_vocab, {}
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab, hidden_size=shape.text_hidden, intermediate_size=shape.text_intermediate,
        num_attention_heads=shape.text_heads, num_hidden_layers=shape.text_layers, max_position_embeddings=shape.tokens,
        hidden_act=shape.text_activation, projection_dim=shape.text_hidden, **special_ids))
    # The scheduler keeps its tables on the CPU, so it is built there even under another default device (e.g.
    # "meta", which builds the modules without allocating their weights, to count parameters).
    with torch.device("cpu"):
        scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                           timestep_spacing="trailing", prediction_type="epsilon", steps_offset=1)
    unet.eval()
    text_encoder.eval()
    vae.eval()
    if device is not None or dtype is not None:
        unet.to(device=device, dtype=dtype)
        text_encoder.to(device=device, dtype=dtype)  # type: ignore[call-arg]
        vae.to(device=device)
        if tiny_autoencoder is not None:
            tiny_autoencoder.to(device=device)
    return RandomComponents(shape, unet, vae, text_encoder, tokenizer, scheduler, tiny_autoencoder)


def save_random_pipeline(size: str | PipelineSize, target: Path, *, seed: int = 0) -> Path:
    """Save a random pipeline of ``size`` to ``target`` (safetensors) as an operator ships a base; returns it."""
    if resolve_size(size).text_vocab is not None:
        raise ValueError("a pipeline directory needs a tokenizer, and CLIP's own vocabulary cannot be built offline: "
                         "use a size without text_vocab")
    parts = random_components(size, seed=seed)
    assert parts.tokenizer is not None
    # diffusers annotates the scheduler with an enum of classes, and never None for the safety parts it allows.
    pipeline = StableDiffusionPipeline(
        vae=parts.vae, text_encoder=parts.text_encoder, tokenizer=parts.tokenizer, unet=parts.unet,
        scheduler=parts.scheduler, safety_checker=None, feature_extractor=None,  # type: ignore[arg-type]
        requires_safety_checker=False)
    pipeline.save_pretrained(target, safe_serialization=True)
    return target
