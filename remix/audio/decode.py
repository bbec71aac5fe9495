"""Decoding stems once into float32 arrays, kept in a per-process LRU cache bounded by a memory budget.

Every stem is stored as a C-contiguous ``(frames, 2)`` float32 array at the rate the render asks for:
mono stems are copied to both sides, stems with more than two channels are folded to mono first, and a
stem at another sample rate is resampled with soxr. Keys are ``(asset sha256, sample rate)``, so a file
shared by two assets is decoded once and an edited file (new hash) can never be served stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile
import soxr

Audio = npt.NDArray[np.float32]

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


class StemDecodeError(Exception):
    """A stored stem file is missing or cannot be decoded."""


def decode_stem(path: Path, sample_rate: int) -> Audio:
    """Read the whole file as ``(frames, 2)`` float32 at ``sample_rate``."""
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise StemDecodeError(str(exc)) from exc
    if data.shape[0] == 0:
        raise StemDecodeError("the file holds no audio frames")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    elif data.shape[1] > 2:
        data = np.repeat(data.mean(axis=1, keepdims=True, dtype=np.float32), 2, axis=1)
    if file_rate != sample_rate:
        data = soxr.resample(data, file_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(data, dtype=np.float32)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class StemCache:
    """Decoded stems, least recently used first out once ``max_bytes`` would be exceeded.

    Thread-safe: renders run in the server's thread pool. Two threads missing on the same stem at once
    both decode it (the second result wins); that costs time, never correctness. A stem larger than the
    whole budget is decoded for the caller and not kept.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, int], Audio] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, sha256: str, path: Path, sample_rate: int) -> Audio:
        """The decoded stem, from the cache or by decoding ``path`` now."""
        key = (sha256, sample_rate)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return cached
            self.stats.misses += 1
        audio = decode_stem(path, sample_rate)
        audio.flags.writeable = False  # shared between renders: nobody may change it in place
        self._put(key, audio)
        return audio

    def _put(self, key: tuple[str, int], audio: Audio) -> None:
        size = audio.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            while self._entries and self._bytes + size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
                self.stats.evictions += 1
            self._entries[key] = audio
            self._bytes += size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


_process_cache: StemCache | None = None
_process_cache_lock = threading.Lock()


def process_cache(max_bytes: int = DEFAULT_CACHE_BYTES) -> StemCache:
    """The one cache of this process (created on first use with ``max_bytes``)."""
    global _process_cache
    with _process_cache_lock:
        if _process_cache is None:
            _process_cache = StemCache(max_bytes)
        return _process_cache
