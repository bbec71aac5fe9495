"""Live frames rendered by `remix worker` processes through a Redis stream (consumer group).

The API process keeps what is per fan (prompt blending, audio-reactive strength, the previous frame) and
its scheduler still gathers its fans' frames into batches; each batch becomes one stream entry. Workers read
entries with ``XREADGROUP``, merge the entries waiting for the same model — from every API process — into
one pipeline call, and push each entry's frames to its reply list. An entry a dead worker read but never
acknowledged is claimed by another worker with ``XAUTOCLAIM`` once it has been idle ``CLAIM_IDLE_MS``.

Why redis-py streams and not arq or dramatiq: both run one job per call; batching several fans' frames,
from several API processes, into one GPU call is the point here, and both would have us build it beside
them. Streams give consumer groups, acknowledgements and claiming of a dead consumer's work directly.

Tensors travel as safetensors (no pickle: a worker never unpickles what it reads from Redis).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import redis

from remix.live.hub import LiveConfig, LiveHub
from remix.live.store import SessionStore
from remix.live.visual import FrameRequest, FrameResult

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from remix.config import Settings
    from remix.ops.metrics import Metrics

logger = logging.getLogger(__name__)

FRAME_STREAM = "remix:render:frames"
WORKER_GROUP = "render-workers"
REPLY_PREFIX = "remix:render:reply:"
CLAIM_IDLE_MS = 600  # a worker silent this long on an entry is taken to be dead
REPLY_TIMEOUT_S = 30.0  # far longer than a claim plus a render: a dead worker costs a late batch, not a session
STREAM_MAX_LEN = 10_000
SEND_ATTEMPTS = 2  # sent again once: only an entry lost with a Redis that kept no data needs it


class RenderFailed(RuntimeError):
    """A worker refused a frame batch (the model is no longer live, the render raised)."""


class RenderTimedOut(RenderFailed):
    """No worker answered a frame batch in time (none alive, or all far behind)."""


def encode_requests(requests: Sequence[FrameRequest]) -> bytes:
    import torch
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    meta = []
    seen: set[int] = set()

    def own(tensor: torch.Tensor) -> torch.Tensor:
        # safetensors refuses tensors sharing memory, and fans with the same prompt share one cached embedding.
        tensor = tensor.detach().float().cpu().contiguous()
        if tensor.untyped_storage().data_ptr() in seen:
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        return tensor

    for i, r in enumerate(requests):
        tensors[f"embedding.{i}"] = own(r.embedding)
        if r.init is not None:
            tensors[f"init.{i}"] = own(r.init)
        if r.init_latents is not None:
            tensors[f"init_latents.{i}"] = own(r.init_latents)
        meta.append({"strength": r.strength, "seed": r.seed, "steps": r.steps, "output_size": r.output_size})
    return save(tensors, metadata={"requests": json.dumps(meta)})


def decode_requests(data: bytes) -> list[FrameRequest]:
    from safetensors.torch import load

    tensors = load(data)
    meta = json.loads(_metadata(data)["requests"])
    return [FrameRequest(embedding=tensors[f"embedding.{i}"], init=tensors.get(f"init.{i}"),
                         init_latents=tensors.get(f"init_latents.{i}"), strength=m["strength"], seed=m["seed"],
                         steps=m["steps"], output_size=m["output_size"]) for i, m in enumerate(meta)]


def encode_results(results: Sequence[FrameResult]) -> bytes:
    import torch
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    for i, r in enumerate(results):
        tensors[f"pixels.{i}"] = r.pixels.detach().float().cpu().contiguous()
        if r.latents is not None:
            tensors[f"latents.{i}"] = r.latents.detach().float().cpu().contiguous()
        tensors[f"jpeg.{i}"] = torch.frombuffer(bytearray(r.jpeg), dtype=torch.uint8)
    return save(tensors, metadata={"count": str(len(results))})


def decode_results(data: bytes) -> list[FrameResult]:
    from safetensors.torch import load

    tensors = load(data)
    count = int(_metadata(data)["count"])
    return [FrameResult(jpeg=tensors[f"jpeg.{i}"].numpy().tobytes(), pixels=tensors[f"pixels.{i}"],
                        latents=tensors.get(f"latents.{i}"))
            for i in range(count)]


def _metadata(data: bytes) -> dict[str, str]:
    # safetensors' header is 8 bytes of length then JSON; its __metadata__ holds our strings.
    length = int.from_bytes(data[:8], "little")
    header: dict[str, Any] = json.loads(data[8:8 + length])
    meta: dict[str, str] = header.get("__metadata__", {})
    return meta


class RedisFrameRenderer:
    """``render_batch(model_key, requests)`` for the live scheduler that sends the batch to the workers.

    Runs in the scheduler's worker thread, so waiting for the reply blocks nothing else.
    """

    def __init__(self, client: redis.Redis, metrics: Metrics | None = None,
                 reply_timeout: float = REPLY_TIMEOUT_S) -> None:
        self.client = client
        self.metrics = metrics
        self.reply_timeout = reply_timeout

    def __call__(self, model_key: Hashable, requests: Sequence[FrameRequest]) -> Sequence[FrameResult]:
        job = secrets.token_hex(12)
        reply = REPLY_PREFIX + job
        entry_id = self.client.xadd(FRAME_STREAM, {"job": job, "model": str(model_key), "reply": reply,
                                                   "requests": encode_requests(requests)},
                                    maxlen=STREAM_MAX_LEN, approximate=True)
        # Wait on this entry's own reply: a worker that dies holding it is replaced by one that claims it, so
        # sending it again would only render it twice.
        answer = self.client.blpop([reply], timeout=self.reply_timeout)
        if answer is None:
            self.client.xdel(FRAME_STREAM, entry_id)  # nobody renders a batch nobody waits for any more
            self._count("timeout")
            raise RenderTimedOut(f"no render worker answered frame batch {job} within {self.reply_timeout:g} s")
        payload = bytes(answer[1])  # type: ignore[arg-type]  # a bytes client (no decode_responses)
        if payload.startswith(b"error:"):
            self._count("refused")
            raise RenderFailed(payload[6:].decode(errors="replace"))
        self._count("ok")
        return decode_results(payload)

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.render_jobs.labels("live_frames", outcome).inc()


class WorkerRenderedHub(LiveHub):
    """The live hub of production mode: frames render on `remix worker` processes, not in the API process."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], config: LiveConfig, *,
                 store: SessionStore, renderer: RedisFrameRenderer) -> None:
        super().__init__(settings, factory, config, store=store)
        self.renderer = renderer

    def _render_batch(self, model_key: Hashable, requests: Sequence[FrameRequest]) -> Sequence[FrameResult]:
        # A batch that fails gets no frame delivered, and a fan's visuals wait for their last frame before asking
        # for the next: so while no worker answers, frames pause (a minute) rather than the batch being dropped.
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return self.renderer(model_key, requests)
            except RenderTimedOut:
                logger.warning("frame batch timed out (attempt %d of %d); sending it again", attempt, SEND_ATTEMPTS)
        raise RenderTimedOut(f"no render worker answered in {SEND_ATTEMPTS} attempts")
