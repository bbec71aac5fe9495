"""How close rendered frames are to the training artwork: the measure behind "the model learned the artwork".

Two distances, each to the *nearest* training image, averaged over frames (lower = closer):

* colour-histogram distance — half the L1 distance between 8×8×8-bin RGB histograms (0 = same palette, 1 = disjoint);
* downsampled-pixel distance — root-mean-square difference of 16×16 thumbnails, in 0–255 units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from remix.visuals.pipeline import center_square

THUMB = 16
BINS = 8


@dataclass(frozen=True)
class ArtworkDistance:
    colour_histogram: float
    downsampled_pixels: float


def _histogram(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(center_square(image.convert("RGB")).resize((64, 64), Image.Resampling.BILINEAR)).reshape(-1, 3)
    hist, _ = np.histogramdd(pixels, bins=(BINS, BINS, BINS), range=((0, 256),) * 3)
    return hist.ravel() / hist.sum()


def _thumb(image: Image.Image) -> np.ndarray:
    square = center_square(image.convert("RGB")).resize((THUMB, THUMB), Image.Resampling.BOX)
    return np.asarray(square, dtype=np.float64)


def distance_to_artwork(frames: Sequence[Image.Image], artwork: Sequence[Image.Image]) -> ArtworkDistance:
    """Mean over ``frames`` of the distance to the closest piece of ``artwork``."""
    if not frames or not artwork:
        raise ValueError("need at least one frame and one artwork")
    hists = [_histogram(a) for a in artwork]
    thumbs = [_thumb(a) for a in artwork]
    colour, pixels = [], []
    for frame in frames:
        h, t = _histogram(frame), _thumb(frame)
        colour.append(min(0.5 * float(np.abs(h - other).sum()) for other in hists))
        pixels.append(min(float(np.sqrt(((t - other) ** 2).mean())) for other in thumbs))
    return ArtworkDistance(colour_histogram=float(np.mean(colour)), downsampled_pixels=float(np.mean(pixels)))
