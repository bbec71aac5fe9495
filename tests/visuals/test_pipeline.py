"""The built-in pipeline: seeded, prompt-sensitive, image→image, checkpoints that round-trip, and it learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from remix.visuals.pipeline import ArtworkDiffusionPipeline
from remix.visuals.quality import distance_to_artwork
from remix.visuals.text_encoder import SentenceEncoder
from remix.visuals.training import TrainingConfig, load_checkpoint, save_checkpoint, untrained_pipeline
from tests.visuals.conftest import artwork_images


def render(pipeline: ArtworkDiffusionPipeline, prompt: str, seed: int, **kwargs: object) -> np.ndarray:
    frame = pipeline(prompt, generator=torch.Generator().manual_seed(seed), **kwargs).images[0]  # type: ignore[arg-type]
    return np.asarray(frame, dtype=np.float64)


def test_same_prompt_and_seed_give_the_same_frame(tiny_pipeline: ArtworkDiffusionPipeline) -> None:
    first = render(tiny_pipeline, "ginger tabby cat", 7)
    assert first.shape == (256, 256, 3)
    assert np.array_equal(first, render(tiny_pipeline, "ginger tabby cat", 7))
    assert not np.array_equal(first, render(tiny_pipeline, "ginger tabby cat", 8))


def test_different_prompts_give_measurably_different_frames(tiny_pipeline: ArtworkDiffusionPipeline) -> None:
    cat = render(tiny_pipeline, "ginger tabby cat", 3)
    coffee = render(tiny_pipeline, "espresso cup on a wooden table", 3)
    assert np.abs(cat - coffee).mean() > 3.0  # mean absolute difference in 0–255 units


def test_image_to_image_stays_near_the_previous_frame(tiny_pipeline: ArtworkDiffusionPipeline) -> None:
    previous = tiny_pipeline("ginger tabby cat", generator=torch.Generator().manual_seed(1)).images[0]
    gentle = render(tiny_pipeline, "espresso cup on a wooden table", 2, image=previous, strength=0.25)
    fresh = render(tiny_pipeline, "espresso cup on a wooden table", 2)
    before = np.asarray(previous, dtype=np.float64)
    assert np.abs(gentle - before).mean() < np.abs(fresh - before).mean()


def test_batches_render_one_frame_per_prompt(tiny_pipeline: ArtworkDiffusionPipeline) -> None:
    generators = [torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)]
    frames = tiny_pipeline(["ginger tabby cat", "ginger tabby cat"], generator=generators).images
    assert len(frames) == 2
    assert np.array_equal(np.asarray(frames[0]), np.asarray(frames[1]))


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"prompt": []}, "`prompt`"),
    ({"prompt": "x" * 301}, "`prompt`"),
    ({"prompt": "cat", "num_inference_steps": 0}, "`num_inference_steps`"),
    ({"prompt": "cat", "guidance_scale": 0.5}, "`guidance_scale`"),
    ({"prompt": "cat", "output_size": 4096}, "`output_size`"),
    ({"prompt": "cat", "image": Image.new("RGB", (8, 8)), "strength": 0.0}, "`strength`"),
    ({"prompt": ["a", "b"], "image": Image.new("RGB", (8, 8))}, "`image`"),
])
def test_bad_arguments_are_named(tiny_pipeline: ArtworkDiffusionPipeline, kwargs: dict[str, object],
                                 argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        tiny_pipeline(**kwargs)  # type: ignore[arg-type]


def test_checkpoint_round_trips(tiny_pipeline: ArtworkDiffusionPipeline, tiny_config: TrainingConfig,
                                encoder: SentenceEncoder, tmp_path: Path) -> None:
    save_checkpoint(tiny_pipeline, tmp_path / "ckpt", tiny_config)
    assert (tmp_path / "ckpt" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = load_checkpoint(tmp_path / "ckpt", encoder)
    assert np.array_equal(render(loaded, "ginger tabby cat", 4), render(tiny_pipeline, "ginger tabby cat", 4))


def test_trained_frames_are_closer_to_the_artwork_than_untrained_ones(
        tiny_pipeline: ArtworkDiffusionPipeline, tiny_config: TrainingConfig, encoder: SentenceEncoder) -> None:
    artwork = artwork_images()
    untrained = untrained_pipeline(tiny_config, encoder)

    def frames(pipeline: ArtworkDiffusionPipeline) -> list[Image.Image]:
        return [pipeline(caption, generator=torch.Generator().manual_seed(seed)).images[0]
                for seed in range(2) for _, caption in artwork]

    trained_distance = distance_to_artwork(frames(tiny_pipeline), [image for image, _ in artwork])
    untrained_distance = distance_to_artwork(frames(untrained), [image for image, _ in artwork])
    assert trained_distance.colour_histogram < untrained_distance.colour_histogram
    assert trained_distance.downsampled_pixels < untrained_distance.downsampled_pixels
