"""The invisible image watermark: ``invisible-watermark``'s DWT-DCT-SVD method carrying the render id.

The message is the 32-bit render id followed by a CRC-16 of it, protected by the same rate-1/2
convolutional code as the audio watermark (112 embedded bits). The library's embedder quantises the
largest singular value of the DCT of every 4×4 block of the chroma (U) plane's Haar approximation band;
bit ``i`` goes into every block whose index is ``i`` modulo 112, so a 256×256 image holds each bit 9 times.

Two changes from the library's defaults make it survive JPEG at quality 75 (88 % → 100 % on the benchmark):
a quantisation step of 64 instead of 36 (PSNR about 35 dB, all of it in chroma), and *soft* decoding —
the library votes each bit to 0/1 and then thresholds; here the mean vote of each bit (a confidence
between 0 and 1) goes to the Viterbi decoder, which then corrects bits that several blocks disagree on.

The CRC means a decode of an unmarked image (which yields random bits) is accepted as an id only about
once in 65 536 tries, and the service then also requires that the id names a stored render. The method
survives JPEG re-compression and resizing once the image is brought back to its rendered size (detection
tries the upload's own size and then the sizes the service renders at); it does not survive cropping,
which shifts its block grid and the block numbering.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from remix.provenance.audio_watermark import convolve, crc16, id_bits, viterbi

PAYLOAD_BITS = 112  # 2 × (32 + 16 + 6 tail) coded bits, padded to whole bytes
CODED_BITS = 108
U_SCALE = 64  # quantisation step of the U plane (the library's default is 36: 88 % after JPEG q75)
BLOCK = 4
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


def _embedder(bits: Sequence[int] = ()) -> Any:
    from imwatermark.dwtDctSvd import EmbedDwtDctSvd

    return EmbedDwtDctSvd(watermarks=list(bits), wmLen=PAYLOAD_BITS, scales=[0, U_SCALE, 0], block=BLOCK)


def embed(rgb: ImageArray, watermark_id: int) -> ImageArray:
    """``rgb`` (H×W×3 uint8) with the watermark carrying ``watermark_id``."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageWatermarkError("the image must be RGB (height × width × 3)")
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise ImageWatermarkError(f"the image must be at least {MIN_SIDE} pixels on each side to carry a watermark")
    bits = np.unpackbits(np.frombuffer(_payload(watermark_id), dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        marked = _embedder(bits.tolist()).encode(_bgr(rgb))
    return np.ascontiguousarray(np.clip(marked, 0, 255).astype(np.uint8)[:, :, ::-1])


def _soft_bits(rgb: ImageArray) -> npt.NDArray[np.float64]:
    """The mean vote (0…1) of every payload bit over all blocks that carry it."""
    import cv2
    import pywt

    height, width = rgb.shape[:2]
    yuv = cv2.cvtColor(_bgr(rgb), cv2.COLOR_BGR2YUV)
    approximation, _ = pywt.dwt2(yuv[: height // 4 * 4, : width // 4 * 4, 1], "haar")
    votes: list[list[int]] = [[] for _ in range(PAYLOAD_BITS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        votes = _embedder().decode_frame(approximation, U_SCALE, votes)
    return np.array([np.mean(v) if v else 0.5 for v in votes], dtype=np.float64)


def _decode(rgb: ImageArray) -> int | None:
    soft = _soft_bits(rgb)[:CODED_BITS]
    bits = viterbi(1.0 - 2.0 * soft)  # a unanimous 0 vote is +1, a split vote 0: the decoder weighs them
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
