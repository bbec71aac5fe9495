"""A tiny, random SD-style diffusers pipeline directory built offline under a fixed seed: the "operator base".

Real component classes (UNet2DConditionModel, AutoencoderKL, CLIPTextModel, CLIPTokenizer, an Euler scheduler
with trailing timesteps like SD-turbo's), saved with ``StableDiffusionPipeline.save_pretrained`` — the same
directory layout an operator would point ``REMIX_VISUAL_BASE_DIR`` at — only a few hundred kB in size.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
from tokenizers import pre_tokenizers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

TOKENS = 16  # SD uses 77; a shorter context keeps the tiny base fast


def tiny_clip_tokenizer() -> CLIPTokenizer:
    """A byte-level BPE vocabulary of single characters (plus word-final forms) and a few merges."""
    chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    merges = ["c a", "ca t</w>", "t h", "th e</w>", "o r", "a n", "an g", "ang e</w>"]
    for token in [*chars, *(c + "</w>" for c in chars), *(m.replace(" ", "") for m in merges)]:
        vocab.setdefault(token, len(vocab))
    pairs = [tuple(m.split(" ")) for m in merges]
    return CLIPTokenizer(vocab=vocab, merges=pairs, model_max_length=TOKENS)


def build_tiny_sd(directory: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=32, sample_size=32,
    )
    tokenizer = tiny_clip_tokenizer()
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=TOKENS, bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=32,
    ))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="trailing", prediction_type="epsilon", steps_offset=1)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    target = directory / "tiny-sd-turbo"
    pipeline.save_pretrained(target, safe_serialization=True)
    return target
