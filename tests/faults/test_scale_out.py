"""Faults in a production-mode cluster on loopback: PostgreSQL, our own Redis, 3 `remix serve` processes
(one set to die inside a payment webhook's transaction) and 2 `remix worker` processes.

One test walks the faults in order so the processes start once (starting one costs seconds on a busy
machine): a render worker killed while it renders a fan's frames, a webhook handler killed mid-transaction,
an API process killed under a live fan, then Redis restarted under a live fan. It prints the recovery times
it measured (README and docs/deploy.md quote them).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from remix.commerce.models import Entitlement, LedgerTransaction, Order, ProviderEvent
from remix.live.protocol import FrameKind, unpack_frame
from remix.scale.frames import FRAME_STREAM, WORKER_GROUP
from remix.scale.session_store import KEY_PREFIX
from tests.commerce.conftest import Shop, payment_succeeded, stripe_signature
from tests.faults.cluster import RedisServer, ServiceProcess, api_process, service_env, wait_until, worker_process
from tests.live.conftest import train_approved_tiny_model

FAN_MIX = {"tempo": 1.2, "stems": {"bass": {"gain_db": -6.0}}}


@dataclass
class Cluster:
    shop: Shop
    redis: RedisServer
    api_a: ServiceProcess
    api_b: ServiceProcess
    api_crashing: ServiceProcess  # dies inside the webhook's transaction, before commit
    workers: list[ServiceProcess]

    def session(self) -> Session:
        return self.shop.client.app.state.sessionmaker()  # type: ignore[attr-defined, no-any-return]

    def dump_logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail()}"
                         for p in (self.api_a, self.api_b, self.api_crashing, *self.workers))


@pytest.fixture
def cluster(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    if not database_url.startswith("postgresql"):
        pytest.skip("the scale-out cluster runs on PostgreSQL (set REMIX_TEST_DATABASE_URL)")
    shop: Shop = request.getfixturevalue("shop")
    world = shop.world
    for scope in ("remix_preview", "train_visual"):
        r = world.client.post("/api/consent/grants", json={"scope": scope, "album_id": shop.album_id},
                              headers=world.headers("alpha"))
        assert r.status_code == 201, r.text
    train_approved_tiny_model(shop.world, shop.album_id)
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    env = service_env(settings.database_url, settings.data_dir, redis_server.url)
    debug = {**env, "REMIX_LOG_LEVEL": "DEBUG"}  # a failure prints what each worker took and rendered
    processes = [api_process("api-a", tmp_path, env), api_process("api-b", tmp_path, env),
                 api_process("api-crashing", tmp_path, {**env, "REMIX_TEST_CRASH_BEFORE_WEBHOOK_COMMIT": "1"}),
                 worker_process("worker-1", tmp_path, debug), worker_process("worker-2", tmp_path, debug)]
    try:
        for process in processes:
            process.start()
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(lambda p: p.wait_ready(), processes))
        built = Cluster(shop, redis_server, *processes[:3], workers=processes[3:])
        yield built
    finally:
        for process in processes:
            process.stop()
        redis_server.stop()


class FrameClock:
    """Reads a live socket in a thread, noting when each image frame arrives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.arrivals: list[float] = []
        self.json: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                message = self.ws.recv()
                if isinstance(message, bytes):
                    if unpack_frame(message).kind == FrameKind.image_jpeg:
                        self.arrivals.append(time.monotonic())
                else:
                    self.json.append(json.loads(message))
        except ConnectionClosed:
            return

    def frames_after(self, moment: float) -> int:
        return sum(1 for t in self.arrivals if t > moment)


def _ws(api: ServiceProcess, cluster: Cluster, session_id: str | None = None) -> ClientConnection:
    url = api.url.replace("http", "ws") + f"/api/tracks/{cluster.shop.track_id}/live"
    return connect(url + (f"?session={session_id}" if session_id else ""),
                   additional_headers=cluster.shop.world.headers("fan"), max_size=1 << 22, open_timeout=10)


def _reply(ws: ClientConnection, message_id: str | None, kind: str | None = None,
           timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.05, deadline - time.monotonic()))
        if isinstance(message, str):
            data: dict[str, Any] = json.loads(message)
            if (message_id is not None and data.get("id") == message_id) or (kind and data["type"] == kind):
                return data


def _send(ws: ClientConnection, kind: str, message_id: str, **fields: Any) -> dict[str, Any]:
    ws.send(json.dumps({"type": kind, "id": message_id, **fields}))
    return _reply(ws, message_id)


def _money(session: Session) -> dict[str, int]:
    return {name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (("orders_paid", Order), ("entitlements", Entitlement),
                                ("ledger_transactions", LedgerTransaction), ("provider_events", ProviderEvent))}


def _post_event(url: str, payload: bytes) -> httpx.Response:
    return httpx.post(f"{url}/api/commerce/stripe/webhook", content=payload, timeout=30,
                      headers={"Stripe-Signature": stripe_signature(payload)})


def test_cluster_survives_a_dead_webhook_handler_a_dead_api_process_and_a_redis_restart(cluster: Cluster) -> None:
    figures: dict[str, float] = {}
    try:
        _run(cluster, figures)
    except BaseException:
        print(cluster.dump_logs())
        raise
    print("scale-out recovery figures:", json.dumps({k: round(v, 3) for k, v in figures.items()}))


def _run(cluster: Cluster, figures: dict[str, float]) -> None:
    _kill_a_render_worker(cluster, figures)
    _kill_a_webhook_and_the_api_process_then_restart_redis(cluster, figures)


def _kill_a_render_worker(cluster: Cluster, figures: dict[str, float]) -> None:
    """kill -9 the worker holding a fan's frames: the other takes them over and frames resume within 2 s."""
    redis_client = cluster.redis.client()
    with _ws(cluster.api_b, cluster) as ws:
        clock = FrameClock(ws)
        wait_until(lambda: any(m["type"] == "state" for m in clock.json), 60, "the session opens")
        state = next(m for m in clock.json if m["type"] == "state")
        assert state["visuals"]["available"] is True, state
        ws.send(json.dumps({"type": "prompt", "id": "p0", "text": "stained glass at dawn"}))
        ws.send(json.dumps({"type": "play", "id": "go"}))
        wait_until(lambda: len(clock.arrivals) >= 5, 120, "frames flow from the workers (first load is slow)")

        def busy_worker() -> str | None:
            info: Any = redis_client.xpending(FRAME_STREAM, WORKER_GROUP)
            for consumer in info.get("consumers") or []:
                if int(consumer["pending"]) > 0:
                    return str(consumer["name"].decode() if isinstance(consumer["name"], bytes)
                               else consumer["name"])
            return None

        victim_name: list[str] = []

        def caught() -> bool:
            name = busy_worker()
            if name:
                victim_name.append(name)
            return name is not None

        wait_until(caught, 20, "a worker is caught holding a batch", interval=0.002)
        victim = next(w for w in cluster.workers if w.name == victim_name[0])
        survivor = next(w for w in cluster.workers if w is not victim)
        before = [b - a for a, b in zip(clock.arrivals, clock.arrivals[1:], strict=False)]
        killed = time.monotonic()
        victim.kill9()

        def victim_holds_nothing() -> bool:
            info: Any = redis_client.xpending(FRAME_STREAM, WORKER_GROUP)
            return all(int(c["pending"]) == 0 for c in info.get("consumers") or []
                       if (c["name"].decode() if isinstance(c["name"], bytes) else c["name"]) == victim.name)

        # The batch the dead worker held moves to the survivor (XAUTOCLAIM after 600 ms of silence).
        figures["worker_kill_to_batch_claimed_s"] = wait_until(victim_holds_nothing, 2.0,
                                                               "the dead worker's batch is claimed", interval=0.005)
        wait_until(lambda: clock.frames_after(killed) >= 3, 60, "frames keep coming from the surviving worker")
        first_after = min(t for t in clock.arrivals if t > killed)
        figures["worker_kill_to_next_frame_s"] = first_after - killed
        figures["slowest_frame_interval_before_kill_s"] = max(before)
        # Within 2 s of the kill, plus what one render takes on this machine right now (seconds on a loaded
        # 2-core CI box, milliseconds on a GPU): the claim, not the render, is what a dead worker may add.
        assert first_after - killed < 2.0 + max(before), figures
        errors = [m for m in clock.json if m["type"] == "error"]
        assert errors == [], errors  # no session error: the fan sees at most a late frame
        assert "claimed" in survivor.log_tail(400)


def _kill_a_webhook_and_the_api_process_then_restart_redis(cluster: Cluster, figures: dict[str, float]) -> None:
    shop = cluster.shop
    # 1. The process handling a payment webhook dies inside its transaction; Stripe redelivers elsewhere.
    order = shop.order()["order"]
    payload = json.dumps(payment_succeeded(order["payment_intent_id"], 999, "EUR")).encode()
    with pytest.raises(httpx.HTTPError):
        _post_event(cluster.api_crashing.url, payload)
    assert cluster.api_crashing.process is not None and cluster.api_crashing.process.wait(20) == 86
    with cluster.session() as session:
        assert _money(session)["provider_events"] == 0  # nothing of the dead transaction was committed
    assert _post_event(cluster.api_a.url, payload).json()["status"] == "processed"
    assert _post_event(cluster.api_b.url, payload).json()["status"] == "duplicate"
    with cluster.session() as session:
        money_after_sale = _money(session)
        sales = session.scalars(select(LedgerTransaction)).all()
    assert [t.kind.value for t in sales] == ["sale"]  # exactly one posting
    assert money_after_sale["entitlements"] == 1
    # The paid render runs on the surviving worker (production-mode API processes render nothing), into one
    # file per order, which any API process then serves.
    settings = shop.world.client.app.state.settings  # type: ignore[attr-defined]
    render = settings.data_dir / "renders" / f"{order['public_id']}.wav"
    figures["payment_to_worker_render_s"] = wait_until(render.exists, 60, "a worker renders the paid order")
    r = httpx.post(f"{cluster.api_b.url}/api/orders/{order['public_id']}/download-url", headers=shop.h("fan"),
                   timeout=30)
    assert r.status_code == 200, r.text
    download = httpx.get(f"{cluster.api_b.url}{r.json()['url']}", timeout=60)
    assert download.status_code == 200 and download.content[:4] == b"RIFF", download.text[:200]
    assert [p.name for p in render.parent.iterdir()] == [render.name]

    # 2. kill -9 the API process a fan is on: the fan reconnects to the other and resumes spec and prompt.
    with _ws(cluster.api_a, cluster) as ws:
        state = _reply(ws, None, kind="state", timeout=120)  # this process loads the visual model first
        session_id = state["session_id"]
        assert _send(ws, "mix", "m1", spec=FAN_MIX)["type"] == "ack"
        assert _send(ws, "prompt", "p1", text="amber dusk over the organ loft")["type"] == "ack"
        time.sleep(0.1)  # saves are written off the event loop, within milliseconds of the ack
        killed = time.monotonic()
        cluster.api_a.kill9()
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=5)
    with _ws(cluster.api_b, cluster, session_id) as ws:
        resumed = _reply(ws, None, kind="state", timeout=30)
        figures["api_kill_to_resumed_s"] = time.monotonic() - killed
        assert resumed["resumed"] is True and resumed["session_id"] == session_id
        assert resumed["mix"] == FAN_MIX and resumed["prompt"] == "amber dusk over the organ loft"

        # 3. Redis restarts under the live fan: control messages keep being answered meanwhile, the change
        #    made while Redis was away reaches Redis once it is back, and money (PostgreSQL) is untouched.
        cluster.redis.stop()
        stopped = time.monotonic()
        wait_until(lambda: httpx.get(f"{cluster.api_b.url}/readyz", timeout=5).status_code == 503, 10,
                   "readiness reports Redis down")
        sent = time.monotonic()
        outage_mix = {"tempo": 0.9}
        assert _send(ws, "mix", "m2", spec=outage_mix)["type"] == "ack"
        figures["ack_during_redis_outage_s"] = time.monotonic() - sent
        cluster.redis.start()
        restarted = time.monotonic()
        figures["redis_down_s"] = restarted - stopped

        def saved_tempo() -> float | None:
            raw = cluster.redis.client().get(KEY_PREFIX + session_id)
            return json.loads(raw)["mix"].get("tempo") if raw else None

        figures["redis_restart_to_state_written_s"] = wait_until(lambda: saved_tempo() == 0.9, 10,
                                                                  "the outage-time mix reaches Redis")
        wait_until(lambda: httpx.get(f"{cluster.api_b.url}/readyz", timeout=5).status_code == 200, 10,
                   "readiness recovers")
        figures["redis_restart_to_ready_s"] = time.monotonic() - restarted
    with _ws(cluster.api_b, cluster, session_id) as ws:
        again = _reply(ws, None, kind="state")
        assert again["resumed"] is True and again["mix"]["tempo"] == 0.9
        assert again["prompt"] == "amber dusk over the organ loft"
    with cluster.session() as session:
        assert _money(session) == money_after_sale  # nothing lost, nothing doubled
    figures["lost_or_doubled_postings"] = 0
