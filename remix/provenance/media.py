"""Recognising, decoding and encoding the files provenance stamps and verifies."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import soundfile
from PIL import Image, UnidentifiedImageError

from remix.errors import InvalidMedia, UnsupportedMedia

AudioFormat = Literal["wav", "mp3", "opus"]
ImageFormat = Literal["png", "jpeg"]
AUDIO_MEDIA_TYPES: dict[str, str] = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg",
                                     "flac": "audio/flac", "m4a": "audio/mp4"}
IMAGE_MEDIA_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
FFMPEG_TIMEOUT_SECONDS = 300
ANALYSIS_RATE = 16_000


@dataclass(frozen=True)
class Sniffed:
    kind: Literal["audio", "image"]
    file_format: str

    @property
    def media_type(self) -> str:
        table = AUDIO_MEDIA_TYPES if self.kind == "audio" else IMAGE_MEDIA_TYPES
        return table[self.file_format]


def sniff(data: bytes) -> Sniffed:
    """What kind of media ``data`` is, from its first bytes (never from the name the client gave)."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "png")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "jpeg")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "webp")
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return Sniffed("audio", "wav")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return Sniffed("audio", "mp3")
    if head.startswith(b"OggS"):
        return Sniffed("audio", "opus")
    if head.startswith(b"fLaC"):
        return Sniffed("audio", "flac")
    if head[4:8] == b"ftyp":
        return Sniffed("audio", "m4a")
    raise UnsupportedMedia("the file is neither audio (WAV, MP3, Ogg/Opus, FLAC, M4A) nor an image (PNG, JPEG, WebP)")


def decode_image(data: bytes, *, max_pixels: int) -> npt.NDArray[np.uint8]:
    """RGB pixels of a whole image; truncated or corrupt files are refused."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise InvalidMedia(f"image is {img.width}x{img.height}; at most {max_pixels} pixels are accepted")
            img.load()
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError as exc:
        # The first bytes already said "image": one that then cannot be read is damaged, not foreign.
        raise InvalidMedia("the image is damaged: its header cannot be read") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidMedia(f"the image is damaged or truncated: {exc}") from exc


def _ffmpeg() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed")
    return ffmpeg


def decode_audio_file(path: Path, *, max_seconds: float) -> npt.NDArray[np.float32]:
    """Mono float32 at 16 kHz (the watermark's analysis rate); undecodable files are refused."""
    result = subprocess.run(
        [_ffmpeg(), "-nostdin", "-v", "error", "-i", str(path), "-t", str(max_seconds), "-ac", "1",
         "-ar", str(ANALYSIS_RATE), "-f", "f32le", "-"],
        capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False,
    )
    samples = np.frombuffer(result.stdout, dtype=np.float32)
    # Any length decodes: a clip shorter than a watermark packet is still traced by its manifest, and the
    # shortest clip the service issues (0.256 s) must verify too (a 0.5 s floor here refused it as undecodable).
    if result.returncode != 0 or samples.size == 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidMedia(f"the audio cannot be decoded whole ({detail[-1] if detail else 'no audio frames'})")
    return samples.copy()


def encode_audio(audio: npt.NDArray[np.float32], sample_rate: int, file_format: AudioFormat,
                 bitrate: str | None = None) -> bytes:
    """Encode ``(frames, channels)`` float audio as WAV (16-bit), MP3 or Opus."""
    clipped = np.clip(audio, -1.0, 1.0)
    wav = io.BytesIO()
    soundfile.write(wav, clipped, sample_rate, format="WAV", subtype="PCM_16")
    if file_format == "wav":
        return wav.getvalue()
    codec = ["-c:a", "libmp3lame", "-b:a", bitrate or "192k"] if file_format == "mp3" else \
        ["-c:a", "libopus", "-b:a", bitrate or "96k"]
    container = ["-f", "mp3"] if file_format == "mp3" else ["-f", "ogg"]
    with tempfile.TemporaryDirectory(prefix="remix-encode-") as scratch:
        source = Path(scratch) / "in.wav"
        source.write_bytes(wav.getvalue())
        result = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", "-i", str(source), *codec, *container, "-"],
                                capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"encoding {file_format} failed: {result.stderr.decode(errors='replace')[:300]}")
    return result.stdout


def encode_image(rgb: npt.NDArray[np.uint8], file_format: ImageFormat, quality: int = 92) -> bytes:
    out = io.BytesIO()
    image = Image.fromarray(rgb)
    if file_format == "png":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=quality)
    return out.getvalue()
