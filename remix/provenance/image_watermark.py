"""The invisible image watermark: ``invisible-watermark``'s DWT-DCT-SVD method carrying the render id.

The message is the 32-bit render id followed by a CRC-16 of it, protected by the same rate-1/2
convolutional code as the audio watermark (112 embedded bits; JPEG at quality 75 with 4:2:0 chroma
flips a few of them, which the Viterbi decoder corrects). The CRC means a decode of an unmarked image
(which yields random bits) is accepted as an id only about once in 65 536 tries, and the service then
also requires that the id names a stored render. The method survives JPEG re-compression and resizing
once the image is brought back to its rendered size (detection tries the upload's own size and then
the sizes the service renders at); it does not survive cropping, which shifts its block grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from remix.provenance.audio_watermark import convolve, crc16, id_bits, viterbi

METHOD = "dwtDctSvd"
PAYLOAD_BITS = 112  # 2 × (32 + 16 + 6 tail) coded bits, padded to whole bytes
# invisible-watermark's DWT-DCT-SVD needs at least this many pixels per side to hold 48 bits.
MIN_SIDE = 256

ImageArray = npt.NDArray[np.uint8]


class ImageWatermarkError(ValueError):
    """The image cannot carry the watermark (too small, or the id is out of range)."""


@dataclass(frozen=True)
class ImageWatermarkResult:
    watermark_id: int | None
    size_tried: tuple[int, int] | None

    @property
    def found(self) -> bool:
        return self.watermark_id is not None


def _payload(watermark_id: int) -> bytes:
    if not 0 < watermark_id < 2**32:
        raise ImageWatermarkError(f"watermark id must be a non-zero 32-bit number, not {watermark_id}")
    bits = id_bits(watermark_id)
    coded = convolve(np.concatenate([bits, crc16(bits)]))
    return np.packbits(np.pad(coded, (0, PAYLOAD_BITS - len(coded)))).tobytes()


def _bgr(rgb: ImageArray) -> ImageArray:
    return np.ascontiguousarray(rgb[:, :, ::-1])


def embed(rgb: ImageArray, watermark_id: int) -> ImageArray:
    """``rgb`` (H×W×3 uint8) with the watermark carrying ``watermark_id``."""
    from imwatermark import WatermarkEncoder

    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageWatermarkError("the image must be RGB (height × width × 3)")
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise ImageWatermarkError(f"the image must be at least {MIN_SIDE} pixels on each side to carry a watermark")
    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", _payload(watermark_id))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        marked = encoder.encode(_bgr(rgb), METHOD)
    return np.ascontiguousarray(np.clip(marked, 0, 255).astype(np.uint8)[:, :, ::-1])


def _decode(rgb: ImageArray) -> int | None:
    from imwatermark import WatermarkDecoder

    decoder = WatermarkDecoder("bytes", PAYLOAD_BITS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = decoder.decode(_bgr(rgb), METHOD)
    coded = np.unpackbits(np.frombuffer(bytes(raw), dtype=np.uint8))[:108].astype(np.float64)
    bits = viterbi(1.0 - 2.0 * coded)
    ident, crc = bits[:32], bits[32:]
    if not np.array_equal(crc16(ident), crc):
        return None
    value = int("".join(str(int(b)) for b in ident), 2)
    return value or None


def detect(rgb: ImageArray, rendered_sizes: Iterable[tuple[int, int]] = ()) -> ImageWatermarkResult:
    """Look for the watermark at the image's own size, then resized to each of ``rendered_sizes`` (w, h)."""
    import cv2

    height, width = rgb.shape[:2]
    if min(height, width) < 64:
        return ImageWatermarkResult(None, None)
    tried: list[tuple[int, int]] = [(width, height)]
    for size in rendered_sizes:
        if size not in tried and min(size) >= MIN_SIDE:
            tried.append(size)
    for w, h in tried:
        candidate = rgb if (w, h) == (width, height) else np.asarray(
            cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
        found = _decode(candidate)
        if found is not None:
            return ImageWatermarkResult(found, (w, h))
    return ImageWatermarkResult(None, None)
