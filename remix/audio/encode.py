"""Turning the float mix into WAV, MP3 or Opus bytes — in memory, so a failed encode leaves no file behind.

* WAV: 16-bit PCM through soundfile, with TPDF dither seeded by the spec's ``seed``.
* MP3: LAME through the ``lameenc`` binding (LGPL-3.0), in process. ``benchmarks/audio_render.py`` compares it
  with piping PCM to ffmpeg and with pydub's export (which writes temporary files and runs ffmpeg); at the
  same LAME quality it is the fastest, mainly because no process is started. LAME is a streaming encoder and
  lameenc releases the GIL while it encodes, so :func:`encode_mp3_blocks` encodes a render block by block on
  a second thread while the engine is still producing the later blocks — the same bytes as one call.
* Opus: libopus through the system ffmpeg, fed raw float PCM on stdin, Ogg container on stdout.

All three are deterministic: LAME and libopus are, and ffmpeg runs with ``-fflags +bitexact
-flags:a +bitexact -map_metadata -1`` so no version string, date or random Ogg serial number gets in.
"""

from __future__ import annotations

import enum
import io
import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import lameenc
import numpy as np
import numpy.typing as npt
import soundfile

from remix.audio.decode import Audio

# LAME's "-q 7" ("fast, ok quality"): psychoacoustics still pick the quantisation, but noise shaping is off.
# It takes about half the CPU of -q 5 (0.17 against 0.32 CPU-s for a 30 s stereo clip), the largest single
# cost of a clip once the DSP is done. Measured on a benchmark clip at 192 kbit/s against the 16-bit source:
# the same full-band SNR (30.3 dB against 29.7 dB) and the same noise below 8 kHz, but 4 dB more noise
# relative to the signal between 8 and 16 kHz, where noise shaping would have hidden it (see
# benchmarks/README.md). -q 6 is bit-identical to -q 5 in this LAME, so there is no step in between.
LAME_QUALITY = 7
FFMPEG_TIMEOUT_SECONDS = 120


class AudioFormat(enum.StrEnum):
    wav = "wav"
    mp3 = "mp3"
    opus = "opus"


MEDIA_TYPES: dict[AudioFormat, str] = {
    AudioFormat.wav: "audio/wav",
    AudioFormat.mp3: "audio/mpeg",
    AudioFormat.opus: "audio/ogg",
}

# Clips are kept; previews are heard once while editing and can be lighter.
CLIP_BITRATE_KBPS = {AudioFormat.mp3: 192, AudioFormat.opus: 128}
PREVIEW_BITRATE_KBPS = {AudioFormat.mp3: 128, AudioFormat.opus: 96}


class EncodeError(RuntimeError):
    """The encoder failed (ffmpeg missing or exited with an error)."""


def to_pcm16(audio: Audio, seed: int | None = None) -> npt.NDArray[np.int16]:
    """Quantise to 16 bits; with a ``seed``, add triangular (TPDF) dither of ±1 LSB first."""
    scaled = audio * np.float32(32767.0)
    if seed is not None:
        rng = np.random.default_rng(seed)
        scaled += rng.random(audio.shape, dtype=np.float32)
        scaled -= rng.random(audio.shape, dtype=np.float32)
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768, 32767, out=scaled)
    return scaled.astype(np.int16)


def encode(audio: Audio, sample_rate: int, fmt: AudioFormat, *, seed: int, bitrate_kbps: int | None = None) -> bytes:
    """Encode ``(frames, 2)`` float32 audio to ``fmt``."""
    if fmt == AudioFormat.wav:
        return encode_wav(audio, sample_rate, seed=seed)
    bitrate = bitrate_kbps or CLIP_BITRATE_KBPS[fmt]
    if fmt == AudioFormat.mp3:
        return encode_mp3(audio, sample_rate, bitrate_kbps=bitrate)
    return encode_opus(audio, sample_rate, bitrate_kbps=bitrate)


def encode_wav(audio: Audio, sample_rate: int, *, seed: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, to_pcm16(audio, seed), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def encode_mp3(audio: Audio, sample_rate: int, *, bitrate_kbps: int, quality: int = LAME_QUALITY) -> bytes:
    encoder = _lame(sample_rate, audio.shape[1], bitrate_kbps, quality)
    return bytes(encoder.encode(to_pcm16(audio).tobytes())) + bytes(encoder.flush())


def encode_mp3_blocks(blocks: Iterable[Audio], sample_rate: int, *, bitrate_kbps: int, quality: int = LAME_QUALITY,
                      channels: int = 2) -> bytes:
    """:func:`encode_mp3` of the blocks joined, byte for byte, with LAME on its own thread.

    Each block is handed to the encoder thread as soon as the iterator yields it, so pulling the next block
    (rendering it) and encoding this one run on two cores at once. One thread, fed in order, keeps LAME's
    stream state sequential. The blocks must not be changed after they are yielded.
    """
    encoder = _lame(sample_rate, channels, bitrate_kbps, quality)

    def encode_block(block: Audio) -> bytes:
        return bytes(encoder.encode(to_pcm16(block).tobytes()))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="remix-mp3") as lame_thread:
        parts = [lame_thread.submit(encode_block, block) for block in blocks if block.shape[0]]
        if not parts:  # LAME refuses to flush before its first encode call; encode_mp3 always makes one
            parts.append(lame_thread.submit(encode_block, np.zeros((0, channels), dtype=np.float32)))
        data = b"".join(part.result() for part in parts)
    return data + bytes(encoder.flush())


def _lame(sample_rate: int, channels: int, bitrate_kbps: int, quality: int) -> lameenc.Encoder:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate_kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(channels)
    encoder.set_quality(quality)
    return encoder


def ffmpeg_encode(audio: Audio, sample_rate: int, output_args: list[str]) -> bytes:
    """Pipe float PCM through ffmpeg with ``output_args`` (codec, bitrate, ``-f`` container); return stdout."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise EncodeError("ffmpeg is not installed (Debian package 'ffmpeg')")
    command = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "f32le", "-ar", str(sample_rate), "-ac", str(audio.shape[1]), "-i", "pipe:0",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
        *output_args, "pipe:1",
    ]
    pcm = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    try:
        done = subprocess.run(command, input=pcm, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EncodeError(f"ffmpeg took longer than {FFMPEG_TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0 or not done.stdout:
        raise EncodeError(f"ffmpeg failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def encode_opus(audio: Audio, sample_rate: int, *, bitrate_kbps: int) -> bytes:
    # libopus only runs at 48 kHz; ffmpeg's resampler converts 44.1 kHz input deterministically.
    return ffmpeg_encode(audio, sample_rate, ["-c:a", "libopus", "-b:a", f"{bitrate_kbps}k", "-f", "ogg"])


def encode_mp3_with_ffmpeg(audio: Audio, sample_rate: int, *, bitrate_kbps: int, quality: int = LAME_QUALITY) -> bytes:
    """The same LAME encode through ffmpeg; kept for the benchmark's encoder comparison."""
    return ffmpeg_encode(audio, sample_rate, ["-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k",
                                              "-compression_level", str(quality), "-f", "mp3"])
