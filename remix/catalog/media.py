"""Decoding uploads to prove they are what they claim, and reading their facts.

The claimed type is the file name's extension and the request's content type; both must agree with
what the bytes decode as. A file that decodes only partly (truncated) is refused.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import soundfile
from PIL import Image, UnidentifiedImageError

from remix.errors import InvalidMedia, UnsupportedMedia

IMAGE_TYPES = {"PNG": ("image/png", {".png"}), "JPEG": ("image/jpeg", {".jpg", ".jpeg"}),
               "WEBP": ("image/webp", {".webp"})}
# Stems must be lossless: a label delivers WAV or FLAC masters, and lossy stems would be re-encoded.
AUDIO_TYPES = {"WAV": ("audio/wav", {".wav"}), "FLAC": ("audio/flac", {".flac"})}
AUDIO_CONTENT_ALIASES = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav",
                         "audio/x-flac": "audio/flac"}
GENERIC_CONTENT_TYPES = {"", "application/octet-stream"}
# A PNG ends with an empty IEND chunk (its CRC is fixed). Pillow stops reading after the last pixel
# row, so a transfer cut inside the trailer would otherwise pass as whole.
PNG_END_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_TRAILER_SEARCH_BYTES = 64 * 1024


@dataclass(frozen=True)
class ImageFacts:
    media_type: str
    suffix: str
    width: int
    height: int


@dataclass(frozen=True)
class AudioFacts:
    media_type: str
    suffix: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate


def _claimed(filename: str, content_type: str | None) -> tuple[str, str]:
    suffix = Path(filename).suffix.lower()
    ctype = (content_type or "").split(";")[0].strip().lower()
    return suffix, AUDIO_CONTENT_ALIASES.get(ctype, ctype)


def _check_claim(kind: str, actual: str, media_type: str, suffixes: set[str], suffix: str, ctype: str) -> None:
    if suffix not in suffixes:
        raise UnsupportedMedia(
            f"file name says '{suffix or 'no extension'}' but the content is {actual} "
            f"({'/'.join(sorted(suffixes))}); rename it or upload the right file"
        )
    if ctype not in GENERIC_CONTENT_TYPES and ctype != media_type:
        raise UnsupportedMedia(f"content type '{ctype}' does not match the {kind} content ({media_type})")


def inspect_image(path: Path, filename: str, content_type: str | None, *, max_pixels: int) -> ImageFacts:
    """Decode the whole image; refuse non-images, unsupported formats, truncation and huge canvases."""
    suffix, ctype = _claimed(filename, content_type)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = img.format or ""
                width, height = img.size
                if width * height > max_pixels:
                    raise InvalidMedia(f"image is {width}x{height}; at most {max_pixels} pixels are accepted")
                img.load()  # decodes every pixel: truncated files raise here
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedMedia(f"'{filename}' is not an image we can decode (PNG, JPEG or WebP)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidMedia(f"'{filename}' is damaged or truncated: {exc}") from exc
    if fmt == "PNG" and not _has_png_end(path):
        raise InvalidMedia(f"'{filename}' is truncated: the PNG end chunk (IEND) is missing")
    if fmt not in IMAGE_TYPES:
        raise UnsupportedMedia(f"'{filename}' is a {fmt} image; artwork must be PNG, JPEG or WebP")
    media_type, suffixes = IMAGE_TYPES[fmt]
    _check_claim("image", fmt, media_type, suffixes, suffix, ctype)
    return ImageFacts(media_type=media_type, suffix=suffix, width=width, height=height)


def _has_png_end(path: Path) -> bool:
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - PNG_TRAILER_SEARCH_BYTES))
        return PNG_END_CHUNK in f.read()


def _wav_data_chunk_shortfall(path: Path) -> int:
    """Bytes the WAV header promises in its data chunk but the file lacks (0 when whole)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
            return 0
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_len = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if chunk_len == 0xFFFFFFFF:  # RF64 / streaming writers: length unknown
                    return 0
                return max(0, pos + 8 + chunk_len - size)
            pos += 8 + chunk_len + (chunk_len & 1)
    return 0


def inspect_audio(path: Path, filename: str, content_type: str | None, *, max_seconds: float) -> AudioFacts:
    """Decode the whole stem; refuse non-audio, lossy or unknown formats, truncation and silence-length lies."""
    suffix, ctype = _claimed(filename, content_type)
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise UnsupportedMedia(f"'{filename}' is not an audio file we can decode (WAV or FLAC)") from exc
    fmt = info.format
    if fmt not in AUDIO_TYPES:
        raise UnsupportedMedia(f"'{filename}' is {fmt} audio; stems must be lossless WAV or FLAC")
    media_type, suffixes = AUDIO_TYPES[fmt]
    _check_claim("audio", fmt, media_type, suffixes, suffix, ctype)
    if info.frames <= 0 or info.samplerate <= 0:
        raise InvalidMedia(f"'{filename}' contains no audio frames")
    if info.frames / info.samplerate > max_seconds:
        raise InvalidMedia(
            f"'{filename}' is {info.frames / info.samplerate:.0f} s long; stems may be at most {max_seconds:.0f} s"
        )
    if fmt == "WAV" and (short := _wav_data_chunk_shortfall(path)):
        raise InvalidMedia(f"'{filename}' is truncated: its header promises {short} more bytes of audio")
    decoded = 0
    try:
        with soundfile.SoundFile(str(path)) as sf:
            for block in sf.blocks(blocksize=65536, dtype="float32"):
                decoded += len(block)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise InvalidMedia(f"'{filename}' is damaged: {exc}") from exc
    if decoded != info.frames:
        raise InvalidMedia(f"'{filename}' is truncated: decoded {decoded} of {info.frames} frames")
    return AudioFacts(media_type=media_type, suffix=suffix, sample_rate=info.samplerate,
                      channels=info.channels, frames=info.frames)
