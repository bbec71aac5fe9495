"""Encoded output decodes back to the right length, and the same audio always gives the same bytes."""

from __future__ import annotations

import io
import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from remix.audio.decode import StemCache, decode_stem
from remix.audio.encode import AudioFormat, encode, encode_mp3, encode_mp3_blocks, to_pcm16
from remix.audio.engine import render
from remix.audio.service import render_mp3
from remix.audio.spec import RemixSpec

RATE = 44_100


def music(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    left = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-((t % 0.5) * 4))
    right = 0.3 * np.sin(2 * np.pi * 554.37 * t) * np.exp(-((t % 0.5) * 4))
    return np.ascontiguousarray(np.stack([left, right], axis=1), dtype=np.float32)


def ffprobe_seconds(content: bytes, suffix: str, tmp_path: Path) -> float:
    path = tmp_path / f"probe{suffix}"
    path.write_bytes(content)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def test_wav_round_trips_exactly_up_to_the_dither() -> None:
    audio = music()
    content = encode(audio, RATE, AudioFormat.wav, seed=1)
    decoded, rate = soundfile.read(io.BytesIO(content), dtype="float32")
    assert rate == RATE and decoded.shape == audio.shape
    assert np.max(np.abs(decoded - audio)) < 2.5 / 32768  # rounding plus ±1 LSB of dither


@pytest.mark.parametrize("fmt", [AudioFormat.mp3, AudioFormat.opus])
def test_lossy_formats_decode_to_the_right_length(fmt: AudioFormat, tmp_path: Path) -> None:
    content = encode(music(), RATE, fmt, seed=0)
    assert ffprobe_seconds(content, f".{fmt.value}", tmp_path) == pytest.approx(2.0, abs=0.06)


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_encoding_is_deterministic(fmt: AudioFormat) -> None:
    assert encode(music(1.0), RATE, fmt, seed=3) == encode(music(1.0), RATE, fmt, seed=3)


def test_dither_follows_the_seed() -> None:
    audio = music(0.1)
    assert np.array_equal(to_pcm16(audio, 5), to_pcm16(audio, 5))
    assert not np.array_equal(to_pcm16(audio, 5), to_pcm16(audio, 6))


def test_decode_makes_mono_stereo_and_resamples(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    soundfile.write(path, np.full(22_050, 0.25, dtype=np.float32), 22_050, subtype="FLOAT")
    audio = decode_stem(path, RATE)
    assert audio.dtype == np.float32 and audio.shape[1] == 2
    assert audio.shape[0] == pytest.approx(RATE, abs=2)
    assert np.allclose(audio[1000:-1000], 0.25, atol=1e-3)


def test_cache_decodes_once_and_stays_under_its_budget(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"s{i}.wav")
        soundfile.write(paths[-1], music(0.5), RATE, subtype="PCM_16")
    one = decode_stem(paths[0], RATE).nbytes
    cache = StemCache(max_bytes=2 * one)
    first = cache.get("a", paths[0], RATE)
    assert cache.get("a", paths[0], RATE) is first
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)
    cache.get("b", paths[1], RATE)
    cache.get("a", paths[0], RATE)  # a is now the most recently used
    cache.get("c", paths[2], RATE)  # evicts b, not a
    assert cache.bytes_used <= 2 * one and len(cache) == 2
    assert cache.get("a", paths[0], RATE) is first
    cache.get("b", paths[1], RATE)
    assert cache.stats.misses == 4 and cache.stats.evictions == 2
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0] = 1.0  # shared between renders: nobody may change it


def test_cache_does_not_keep_a_stem_larger_than_its_budget(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    soundfile.write(path, music(0.5), RATE, subtype="PCM_16")
    cache = StemCache(max_bytes=1000)
    assert cache.get("big", path, RATE).shape[0] == RATE // 2
    assert len(cache) == 0 and cache.bytes_used == 0


def test_mp3_encoded_block_by_block_is_the_same_file() -> None:
    audio = music(3.0)
    edges = [0, 1, 1152, 20_000, 20_001, 70_000, audio.shape[0]]
    blocks = [audio[a:b] for a, b in itertools.pairwise(edges)]
    streamed = encode_mp3_blocks(iter(blocks), RATE, bitrate_kbps=192)
    assert streamed == encode_mp3(audio, RATE, bitrate_kbps=192)


def test_mp3_of_no_blocks_is_the_same_empty_file() -> None:
    # A window of one frame at tempo 2 renders no frames at all; the streamed encoder must still give the file
    # encode_mp3 gives for empty audio, not fail (the preview answered 500).
    empty = np.zeros((0, 2), dtype=np.float32)
    expected = encode_mp3(empty, RATE, bitrate_kbps=128)
    assert encode_mp3_blocks(iter([]), RATE, bitrate_kbps=128) == expected
    assert encode_mp3_blocks(iter([empty]), RATE, bitrate_kbps=128) == expected


def test_a_streamed_mp3_render_of_no_frames_is_an_empty_file() -> None:
    stems = {"a": music(1.0)}
    spec = RemixSpec.model_validate({"window": {"start_seconds": 0.1, "length_seconds": 0.00001}, "tempo": 2.0})
    audio, content = render_mp3(stems, spec, RATE, 128)
    assert audio.shape == render(stems, spec, RATE).shape == (0, 2)
    assert content == encode_mp3(audio, RATE, bitrate_kbps=128)
