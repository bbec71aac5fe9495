"""The random SD-shaped pipelines that tests and benchmarks build offline (``remix.visuals.random_pipeline``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from remix.visuals.operator_base import base_identity
from remix.visuals.random_pipeline import SIZES, random_components, save_random_pipeline


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_sd_turbo_size_has_the_shapes_the_gpu_figures_were_measured_on() -> None:
    # On the meta device: the modules are built without allocating their 1.3 G weights.
    with torch.device("meta"):
        parts = random_components("sd-turbo", with_tiny_autoencoder=True)
    assert parts.tiny_autoencoder is not None
    assert parameters(parts.unet) == 865_910_724  # SD 2.1's UNet, as in the README's H100 table
    assert parts.unet.config["use_linear_projection"]  # as SD 2.x; 1×1 convolutions would count the same
    assert parameters(parts.text_encoder) == 340_387_840  # OpenCLIP-H's text tower (23 layers used by SD 2.x)
    assert parameters(parts.vae) == 83_653_863
    assert parameters(parts.tiny_autoencoder) == 2_445_063  # TAESD
    assert SIZES["sd-turbo"].image_size == 512
    assert parts.tokenizer is None  # CLIP's own 49408-token vocabulary cannot be built offline


def test_a_seed_gives_one_base_and_another_seed_another(tmp_path: Path) -> None:
    first = base_identity(save_random_pipeline("tiny", tmp_path / "a" / "tiny-sd-turbo", seed=3))
    again = base_identity(save_random_pipeline("tiny", tmp_path / "b" / "tiny-sd-turbo", seed=3))
    other = base_identity(save_random_pipeline("tiny", tmp_path / "c" / "tiny-sd-turbo", seed=4))
    assert first.sha256 == again.sha256
    assert other.sha256 != first.sha256
    assert first.files.keys() == other.files.keys()


def test_a_size_without_a_tokenizer_or_an_unknown_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a tokenizer"):
        save_random_pipeline("sd-turbo", tmp_path / "base")
    with pytest.raises(ValueError, match="unknown pipeline size 'sd-xl': the sizes are tiny, small, sd-turbo"):
        save_random_pipeline("sd-xl", tmp_path / "base")
    assert not (tmp_path / "base").exists()
