"""The server process dies between receiving a payment event and committing; redelivery posts exactly once."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import select

from remix.commerce.models import LedgerTransaction, Order, ProviderEvent
from remix.config import Settings
from tests.commerce.conftest import (
    VENV_PYTHON,
    WEBHOOK_SECRET,
    Shop,
    payment_succeeded,
    stripe_signature,
    wait_for_http,
)
from tests.loopback import free_port


@contextmanager
def server_process(settings: Settings, *, crash: bool) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, "REMIX_DATABASE_URL": settings.database_url, "REMIX_ENVIRONMENT": "test",
           "REMIX_MIGRATE_ON_START": "false", "REMIX_DATA_DIR": str(settings.data_dir),
           "REMIX_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    if crash:
        env["REMIX_TEST_CRASH_BEFORE_WEBHOOK_COMMIT"] = "1"
    process = subprocess.Popen([VENV_PYTHON, "-m", "uvicorn", "--factory", "remix.app:create_app", "--host",
                                "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", process, seconds=180)  # importing the app is slow on a busy machine
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=20)


def post_event(url: str, payload: bytes) -> httpx.Response:
    return httpx.post(f"{url}/api/commerce/stripe/webhook", content=payload, timeout=30,
                      headers={"Stripe-Signature": stripe_signature(payload)})


def test_crash_before_commit_then_redelivery_posts_exactly_once(shop: Shop, settings: Settings) -> None:
    order = shop.order()["order"]
    payload = json.dumps(payment_succeeded(order["payment_intent_id"], 999, "EUR")).encode()
    with server_process(settings, crash=True) as (process, url):
        try:
            post_event(url, payload)
            raise AssertionError("the crashing server answered")
        except httpx.HTTPError:
            pass  # the connection dies with the process
        assert process.wait(timeout=20) == 86
    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        assert session.execute(select(ProviderEvent)).first() is None  # nothing of it was committed
        assert session.execute(select(LedgerTransaction)).first() is None
    with server_process(settings, crash=False) as (_, url):
        assert post_event(url, payload).json()["status"] == "processed"
        assert post_event(url, payload).json()["status"] == "duplicate"
    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        sales = session.execute(select(LedgerTransaction)).scalars().all()
        assert [t.kind.value for t in sales] == ["sale"]
        assert session.execute(select(Order)).scalar_one().status.value == "paid"
