"""Faults in a production-mode cluster on loopback: PostgreSQL, our own Redis, several `remix serve` processes.

One test walks the faults in order so the processes start once (starting one costs seconds on a busy
machine): a webhook handler killed mid-transaction, an API process killed under a live fan, then Redis
restarted under a live fan. It prints the recovery times it measured (README, docs/deploy.md quote them).
"""

from __future__ import annotations

import json
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
from remix.scale.session_store import KEY_PREFIX
from tests.commerce.conftest import Shop, payment_succeeded, stripe_signature
from tests.faults.cluster import RedisServer, ServiceProcess, api_process, service_env, wait_until

FAN_MIX = {"tempo": 1.2, "stems": {"bass": {"gain_db": -6.0}}}


@dataclass
class Cluster:
    shop: Shop
    redis: RedisServer
    api_a: ServiceProcess
    api_b: ServiceProcess
    api_crashing: ServiceProcess  # dies inside the webhook's transaction, before commit

    def session(self) -> Session:
        return self.shop.client.app.state.sessionmaker()  # type: ignore[attr-defined, no-any-return]

    def dump_logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in (self.api_a, self.api_b, self.api_crashing))


@pytest.fixture
def cluster(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    if not database_url.startswith("postgresql"):
        pytest.skip("the scale-out cluster runs on PostgreSQL (set REMIX_TEST_DATABASE_URL)")
    shop: Shop = request.getfixturevalue("shop")
    world = shop.world
    r = world.client.post("/api/consent/grants", json={"scope": "remix_preview", "album_id": shop.album_id},
                          headers=world.headers("alpha"))
    assert r.status_code == 201, r.text
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    env = service_env(settings.database_url, settings.data_dir, redis_server.url)
    processes = [api_process("api-a", tmp_path, env), api_process("api-b", tmp_path, env),
                 api_process("api-crashing", tmp_path, {**env, "REMIX_TEST_CRASH_BEFORE_WEBHOOK_COMMIT": "1"})]
    try:
        for process in processes:
            process.start()
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(lambda p: p.wait_ready(), processes))
        built = Cluster(shop, redis_server, *processes)
        yield built
    finally:
        for process in processes:
            process.stop()
        redis_server.stop()


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

    # 2. kill -9 the API process a fan is on: the fan reconnects to the other and resumes spec and prompt.
    with _ws(cluster.api_a, cluster) as ws:
        state = _reply(ws, None, kind="state")
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
        resumed = _reply(ws, None, kind="state")
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
