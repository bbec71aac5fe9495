"""Live visuals: prompts turn into frames, fans share batched renders without changing what each sees,
and stale frames are dropped instead of queued."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from remix.live.outbox import Outbox
from remix.live.protocol import FrameKind, pack_frame, unpack_frame
from remix.live.scheduler import RenderScheduler
from remix.live.visual import FrameRequest, embed_prompt, render_frames
from remix.visuals.pipeline import ArtworkDiffusionPipeline
from remix.visuals.text_encoder import load_sentence_encoder
from remix.visuals.training import PRESETS, untrained_pipeline
from tests.live.conftest import TEST_CONFIG, LiveTrack, frames, reply_to


def send(ws: Any, message_type: str, message_id: str, **fields: object) -> None:
    ws.send_text(json.dumps({"type": message_type, "id": message_id, **fields}))


def pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def tiny() -> ArtworkDiffusionPipeline:
    """The tiny architecture, untrained: batching must not change a frame whatever the weights are (the
    websocket tests below use a model trained through the API)."""
    return untrained_pipeline(PRESETS["tiny"], load_sentence_encoder())


def test_a_frame_is_the_same_alone_or_batched_with_other_fans(tiny: ArtworkDiffusionPipeline) -> None:
    previous = render_frames(tiny, [FrameRequest(embed_prompt(tiny, "a ginger cat"), None, 0.5, seed=9,
                                                 steps=4, output_size=32)])[0].pixels
    requests = [
        FrameRequest(embed_prompt(tiny, "astronaut in orange"), None, 0.5, seed=1, steps=4, output_size=32),
        FrameRequest(embed_prompt(tiny, "espresso cup"), previous, 0.3, seed=2, steps=4, output_size=32),
        FrameRequest(embed_prompt(tiny, "a ginger cat"), previous, 0.8, seed=3, steps=4, output_size=32),
    ]
    batched = render_frames(tiny, requests)
    for request, together in zip(requests, batched, strict=True):
        alone = render_frames(tiny, [request])[0]
        # Batched matrix products round differently in the last float bits; nothing a viewer could see.
        assert torch.allclose(alone.pixels, together.pixels, atol=1e-3)
    assert not torch.allclose(batched[0].pixels, batched[1].pixels, atol=0.05)
    with pytest.raises(ValueError, match="steps"):
        render_frames(tiny, [requests[0], FrameRequest(requests[1].embedding, None, 0.5, seed=1, steps=2)])


def test_the_scheduler_batches_waiting_frames_and_drops_stale_ones() -> None:
    calls: list[list[int]] = []

    def render(model: object, requests: Sequence[int]) -> list[int]:
        calls.append(list(requests))
        return [r * 10 for r in requests]

    async def scenario() -> tuple[dict[str, list[int]], int]:
        scheduler: RenderScheduler[int, int] = RenderScheduler(render, max_batch=8, max_wait_ms=20)
        got: dict[str, list[int]] = {"a": [], "b": []}
        done = asyncio.Event()

        def deliver(who: str) -> Any:
            async def put(result: int) -> None:
                got[who].append(result)
                if len(got["a"]) + len(got["b"]) >= 2:
                    done.set()
            return put

        scheduler.register("a", deliver("a"))
        scheduler.register("b", deliver("b"))
        scheduler.start()
        scheduler.submit("a", "model", 1)
        scheduler.submit("a", "model", 2)  # replaces 1 before it rendered: 1 was stale
        scheduler.submit("b", "model", 3)
        await asyncio.wait_for(done.wait(), 10)
        await scheduler.stop()
        return got, scheduler.stats.dropped

    got, dropped = asyncio.run(scenario())
    assert calls == [[2, 3]]  # one call for both fans
    assert got == {"a": [20], "b": [30]} and dropped == 1


def test_a_failed_render_tells_the_session_so_its_frames_do_not_stop() -> None:
    attempts: list[list[int]] = []

    def render(model: object, requests: Sequence[int]) -> list[int]:
        attempts.append(list(requests))
        if len(attempts) == 1:
            raise RuntimeError("the GPU worker went away")
        return [r * 10 for r in requests]

    async def scenario() -> tuple[list[int], int]:
        scheduler: RenderScheduler[int, int] = RenderScheduler(render, max_wait_ms=1)
        got: list[int] = []
        failed = asyncio.Event()
        delivered = asyncio.Event()

        async def deliver(result: int) -> None:
            got.append(result)
            delivered.set()

        scheduler.register("fan", deliver, failed.set)
        scheduler.start()
        scheduler.submit("fan", "model", 1)
        await asyncio.wait_for(failed.wait(), 10)
        busy_after_failure = scheduler.busy("fan")
        scheduler.submit("fan", "model", 2)  # what the session does when told: ask again
        await asyncio.wait_for(delivered.wait(), 10)
        await scheduler.stop()
        return got, int(busy_after_failure)

    got, busy = asyncio.run(scenario())
    assert busy == 0  # the failed frame no longer blocks the session's next one
    assert got == [20]


def test_a_slow_client_only_delays_itself_and_gets_the_newest_frame() -> None:
    async def scenario() -> tuple[list[Any], list[Any], Outbox]:
        release = asyncio.Event()
        slow_got: list[Any] = []
        fast_got: list[Any] = []

        async def slow_send(item: Any) -> None:
            await release.wait()
            slow_got.append(item)

        async def fast_send(item: Any) -> None:
            fast_got.append(item)

        slow, fast = Outbox(max_audio=2), Outbox(max_audio=2)
        tasks = [asyncio.create_task(slow.run(slow_send, slow_send)),
                 asyncio.create_task(fast.run(fast_send, fast_send))]
        for box in (slow, fast):
            box.reply({"type": "ack", "id": "first"})
        await asyncio.sleep(0.01)  # the slow client is now stuck sending its first message
        for n in range(10):
            for box in (slow, fast):
                box.image(pack_frame(FrameKind.image_jpeg, n, 0, b"jpeg"))
                box.audio(pack_frame(FrameKind.audio_wav, n, 0, b"wav"))
                box.reply({"type": "ack", "id": f"m{n}"})
            await asyncio.sleep(0)
        assert len(fast_got) == 31 and slow_got == []  # the fast client got everything meanwhile
        release.set()
        await asyncio.sleep(0.05)
        for box in (slow, fast):
            box.close()
        await asyncio.gather(*tasks)
        return slow_got, fast_got, slow

    slow_got, _, slow = asyncio.run(scenario())
    replies = [m["id"] for m in slow_got if isinstance(m, dict)]
    media = [unpack_frame(m) for m in slow_got if isinstance(m, bytes)]
    assert replies == ["first", *(f"m{n}" for n in range(10))]  # replies: none lost, in order
    assert [f.sequence for f in media if f.kind == FrameKind.image_jpeg] == [9]  # only the newest frame
    assert [f.sequence for f in media if f.kind == FrameKind.audio_wav] == [8, 9]  # the newest audio
    assert slow.stats.images_dropped == 9 and slow.stats.audio_dropped == 8


def test_prompts_transform_the_frames_and_refused_prompts_get_the_reason(visual_track: LiveTrack) -> None:
    world = visual_track.world
    r = world.client.put(f"/api/artists/{visual_track.artist_id}/prompt-rules", json={"blocked_words": ["zombie"]},
                         headers=world.headers("alpha"))
    assert r.status_code == 200, r.text
    with world.client.websocket_connect(visual_track.ws_url(), headers=world.headers("fan")) as ws:
        state = reply_state(ws)
        assert state["visuals"]["available"] is True
        send(ws, "prompt", "p1", text="astronaut in an orange suit")
        assert reply_to(ws, "p1")["type"] == "ack"
        first = frames(ws, FrameKind.image_jpeg, 1)[0]
        assert first.payload[:2] == b"\xff\xd8" and Image.open(io.BytesIO(first.payload)).size == (64, 64)
        send(ws, "prompt", "p2", text="a ginger tabby cat")
        assert reply_to(ws, "p2")["type"] == "ack"
        blend = frames(ws, FrameKind.image_jpeg, TEST_CONFIG.frame_steps + 2)  # the new prompt blends in
        assert [f.sequence for f in blend] == list(range(1, len(blend) + 1))
        assert np.abs(pixels(blend[-1].payload) - pixels(first.payload)).mean() > 1.0
        send(ws, "prompt", "p3", text="zombie astronaut")
        refused = reply_to(ws, "p3")
        assert refused["error"] == "PromptRefused" and "zombie" in refused["detail"]
        answers = []
        for n in range(6):
            send(ws, "prompt", f"r{n}", text="stars")
        for n in range(6):
            answers.append(reply_to(ws, f"r{n}"))
        assert any(a.get("error") == "RateLimited" for a in answers)


def reply_state(ws: Any) -> dict[str, Any]:
    while True:
        message = ws.receive_json()
        if message["type"] == "state":
            return dict(message)


def test_two_fans_rendered_in_one_batch_each_get_their_own_frames(visual_track: LiveTrack) -> None:
    world = visual_track.world
    client = world.client
    app: Any = client.app
    app.state.live_hub = None  # a fresh hub with a long gather window, so both frames share one call
    app.state.live_config = TEST_CONFIG.__class__(**{**TEST_CONFIG.__dict__, "gather_ms": 400.0})
    prompts = {"fan": "astronaut in an orange suit", "beta": "espresso cup on a table"}
    with client.websocket_connect(visual_track.ws_url(), headers=world.headers("fan")) as one, \
            client.websocket_connect(visual_track.ws_url(), headers=world.headers("beta")) as two:
        reply_state(one), reply_state(two)
        send(one, "prompt", "a", text=prompts["fan"])
        send(two, "prompt", "b", text=prompts["beta"])
        got = {"fan": frames(one, FrameKind.image_jpeg, 1)[0], "beta": frames(two, FrameKind.image_jpeg, 1)[0]}
        hub = app.state.live_hub
        pipeline = next(iter(hub.pipelines.values()))
        assert max(hub.scheduler.stats.batch_sizes) >= 2
    for who, prompt in prompts.items():
        # A fan's first frame: their prompt, from noise, seed 0 — rendered alone here.
        alone = render_frames(pipeline, [FrameRequest(embed_prompt(pipeline, prompt), None, 0.5, seed=0,
                                                      steps=TEST_CONFIG.frame_steps,
                                                      output_size=TEST_CONFIG.frame_size)])[0]
        assert np.abs(pixels(alone.jpeg) - pixels(got[who].payload)).max() <= 2
    assert np.abs(pixels(got["fan"].payload) - pixels(got["beta"].payload)).mean() > 1.0
