"""Paid long renders on the workers: a worker killed mid-render has its order rendered by another, into the
one file the API process then serves; the API process renders nothing itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
import soundfile
from fastapi.testclient import TestClient

from remix.app import create_app
from remix.commerce.config import CommerceSettings
from remix.config import Settings
from remix.scale.order_renders import ORDER_GROUP, ORDER_STREAM, OrderRenderWorker, enqueue_order_render
from tests.commerce.conftest import Shop, deliver, payment_succeeded
from tests.ops.test_ops import REDIS_URL


@pytest.fixture
def orders_stream() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    client.delete(ORDER_STREAM)
    yield client
    client.delete(ORDER_STREAM)


def test_an_order_a_killed_worker_was_rendering_is_rendered_once_by_another_and_served(
        shop: Shop, settings: Settings, commerce_settings: CommerceSettings, orders_stream: redis.Redis) -> None:
    order = shop.order()["order"]
    assert deliver(shop.client, payment_succeeded(order["payment_intent_id"], 999, "EUR")).status_code == 200
    production = settings.model_copy(update={"redis_url": REDIS_URL})
    factory = shop.client.app.state.sessionmaker  # type: ignore[attr-defined]

    enqueue_order_render(REDIS_URL, order["public_id"])
    killed = OrderRenderWorker(production, factory, name="killed")
    killed.ensure_group()
    # The killed worker took the order and died before finishing: its entry stays pending, unacknowledged.
    taken = orders_stream.xreadgroup(ORDER_GROUP, "killed", {ORDER_STREAM: ">"}, count=1)
    assert taken and len(taken[0][1]) == 1

    survivor = OrderRenderWorker(production, factory, name="survivor", block_ms=50, claim_idle_ms=300)
    deadline = time.monotonic() + 120
    while survivor.rendered == 0:
        assert time.monotonic() < deadline, "no worker took over the killed worker's order"
        survivor.step()
    assert orders_stream.xpending(ORDER_STREAM, ORDER_GROUP)["pending"] == 0  # acknowledged once rendered

    # Asked again (a download whose first request was lost): nothing is rendered twice.
    enqueue_order_render(REDIS_URL, order["public_id"])
    while survivor.step() == 0:
        pass
    assert survivor.rendered == 1
    renders_dir = settings.data_dir / "renders"
    assert [p.name for p in renders_dir.iterdir()] == [f"{order['public_id']}.wav"]  # one file, no partials
    rendered = soundfile.info(str(renders_dir / f"{order['public_id']}.wav"))
    assert rendered.duration > 0.5

    with TestClient(create_app(production)) as api:  # an API process in production mode serves that file
        api.app.state.commerce_settings = commerce_settings  # type: ignore[attr-defined]
        r = api.post(f"/api/orders/{order['public_id']}/download-url", headers=shop.h("fan"))
        assert r.status_code == 200, r.text
        download = api.get(r.json()["url"])
    assert download.status_code == 200, download.text
    assert download.content[:4] == b"RIFF"
    assert [p.name for p in renders_dir.iterdir()] == [f"{order['public_id']}.wav"]
