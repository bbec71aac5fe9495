"""Live frames through the Redis stream: batches of several API processes share one pipeline call, and a
batch a dead worker read but never finished is rendered by another."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
import torch

from remix.config import Settings
from remix.live.visual import FrameRequest, FrameResult, embed_prompt, render_frames
from remix.scale.frames import (
    CLAIM_IDLE_MS,
    FRAME_STREAM,
    WORKER_GROUP,
    RedisFrameRenderer,
    decode_requests,
    decode_results,
    encode_requests,
    encode_results,
)
from remix.scale.worker import FrameWorker
from remix.visuals.pipeline import ArtworkDiffusionPipeline
from remix.visuals.text_encoder import load_sentence_encoder
from remix.visuals.training import PRESETS, untrained_pipeline
from tests.ops.test_ops import REDIS_URL


@pytest.fixture(scope="module")
def tiny() -> ArtworkDiffusionPipeline:
    torch.manual_seed(0)
    return untrained_pipeline(PRESETS["tiny"], load_sentence_encoder())


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(REDIS_URL, socket_timeout=15)
    c.delete(FRAME_STREAM)
    yield c
    c.delete(FRAME_STREAM)


class TinyWorker(FrameWorker):
    """A worker whose pipeline is the tiny untrained one (no database model needed)."""

    def __init__(self, settings: Settings, pipeline: ArtworkDiffusionPipeline, name: str) -> None:
        super().__init__(settings, name=name, block_ms=50)
        self.pipeline = pipeline

    def _pipeline(self, model_id: int) -> Any:
        return self.pipeline


def _requests(tiny: ArtworkDiffusionPipeline, prompt: str, seeds: Sequence[int]) -> list[FrameRequest]:
    return [FrameRequest(embed_prompt(tiny, prompt), None, 0.5, seed=s, steps=2, output_size=32) for s in seeds]


def _worker(tiny: ArtworkDiffusionPipeline, tmp_path: Path, name: str) -> TinyWorker:
    settings = Settings(environment="test", database_url=f"sqlite:///{tmp_path / 'unused.db'}", redis_url=REDIS_URL)
    worker = TinyWorker(settings, tiny, name)
    worker.ensure_group()
    return worker


def _same(a: Sequence[FrameResult], b: Sequence[FrameResult]) -> bool:
    return len(a) == len(b) and all(torch.allclose(x.pixels, y.pixels, atol=2e-3) for x, y in zip(a, b, strict=True))


def test_requests_and_results_survive_the_wire(tiny: ArtworkDiffusionPipeline) -> None:
    requests = _requests(tiny, "amber dusk", [1, 2])
    requests[1] = FrameRequest(requests[1].embedding, torch.rand(3, 16, 16) * 2 - 1, 0.7, seed=5, steps=2)
    back = decode_requests(encode_requests(requests))
    assert [(r.strength, r.seed, r.steps, r.output_size) for r in back] == \
        [(r.strength, r.seed, r.steps, r.output_size) for r in requests]
    assert back[0].init is None and back[1].init is not None and torch.equal(back[1].init, requests[1].init)
    results = render_frames(tiny, requests[:1])
    again = decode_results(encode_results(results))
    assert again[0].jpeg == results[0].jpeg and torch.equal(again[0].pixels, results[0].pixels)


def test_batches_from_two_api_processes_render_in_one_call_with_the_same_frames(
        tiny: ArtworkDiffusionPipeline, client: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = _worker(tiny, tmp_path, "w1")
    calls: list[int] = []
    original = render_frames

    def counting(pipeline: Any, requests: Sequence[FrameRequest]) -> list[FrameResult]:
        calls.append(len(requests))
        return original(pipeline, requests)

    batches = {"a": _requests(tiny, "amber dusk", [1, 2]), "b": _requests(tiny, "cold harbour", [3])}
    got: dict[str, Sequence[FrameResult]] = {}

    def api(key: str) -> None:  # one "API process" each: its own renderer and connection
        got[key] = RedisFrameRenderer(redis.Redis.from_url(REDIS_URL, socket_timeout=15))(7, batches[key])

    threads = [threading.Thread(target=api, args=(k,)) for k in batches]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while client.xlen(FRAME_STREAM) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    monkeypatch.setattr("remix.scale.worker.render_frames", counting)
    assert worker.step() == 2
    for t in threads:
        t.join(10)
    assert calls == [3]  # both processes' frames in one pipeline call
    for key, requests in batches.items():
        assert _same(got[key], render_frames(tiny, requests))  # batching changes nothing a fan sees


def test_a_batch_left_by_a_dead_worker_is_rendered_by_another(
        tiny: ArtworkDiffusionPipeline, client: redis.Redis, tmp_path: Path) -> None:
    survivor = _worker(tiny, tmp_path, "survivor")
    requests = _requests(tiny, "amber dusk", [4])
    got: list[Sequence[FrameResult]] = []
    api = threading.Thread(target=lambda: got.append(
        RedisFrameRenderer(redis.Redis.from_url(REDIS_URL, socket_timeout=15))(7, requests)))
    api.start()
    deadline = time.monotonic() + 10
    while client.xlen(FRAME_STREAM) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # The doomed worker reads the entry, then dies before replying or acknowledging.
    taken = client.xreadgroup(WORKER_GROUP, "doomed", {FRAME_STREAM: ">"}, count=10)
    assert taken and len(taken[0][1]) == 1
    assert survivor.step() == 0  # too soon: the doomed worker might still be rendering
    time.sleep(CLAIM_IDLE_MS / 1000)
    assert survivor.step() == 1
    api.join(10)
    assert got and _same(got[0], render_frames(tiny, requests))
    assert client.xpending(FRAME_STREAM, WORKER_GROUP)["pending"] == 0
