"""The demo sells offline: `remix demo`'s own localstripe wiring takes a fan's payment for a seeded track, and
localstripe's signed webhook makes the order paid and splits the sale to the seeded payees."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from remix.commerce.config import CommerceSettings
from remix.config import Settings
from remix.demo.media import DemoAlbumMedia
from remix.demo.payments import LocalStripe, stripe_is_configured
from remix.demo.seed import seed_demo
from tests.conftest import login
from tests.loopback import served

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_server(client: TestClient, settings: Settings, demo_media: DemoAlbumMedia) -> Iterator[str]:
    """The seeded demo app listening on a loopback port (as `remix demo` serves it); yields its base URL."""
    settings = settings.model_copy(update={"max_audio_bytes": Settings().max_audio_bytes})
    with client.app.state.sessionmaker.begin() as session:  # type: ignore[attr-defined]
        seed_demo(session, settings, demo_media)
    with served(client.app) as base:  # type: ignore[arg-type]
        yield base


def test_only_an_unconfigured_stripe_gets_the_local_stand_in() -> None:
    assert not stripe_is_configured(CommerceSettings())
    assert stripe_is_configured(CommerceSettings(stripe_api_base="http://127.0.0.1:8420"))
    assert stripe_is_configured(CommerceSettings(stripe_api_key="sk_test_someone_real"))


def test_a_fan_buys_a_demo_long_version_through_the_demos_local_stripe(
    client: TestClient, demo_server: str, tmp_path: Path
) -> None:
    # The long render is not what this test is about; the demo itself renders on payment.
    commerce = CommerceSettings(render_on_payment=False)
    with LocalStripe.start(tmp_path / "localstripe.log") as stand_in:
        client.app.state.commerce_settings = stand_in.wire(commerce, demo_server)  # type: ignore[attr-defined]
        with httpx.Client(base_url=demo_server, timeout=30) as web:
            fan = {"Authorization": f"Bearer {login(client, 'fan@remix.test', 'fan-demo-password')}"}
            album = web.get("/api/albums", headers=fan).json()[0]
            track = web.get(f"/api/albums/{album['id']}", headers=fan).json()["tracks"][0]
            spec = {"stems": {"soprano": {"gain_db": -3.0}}, "window": {"start_seconds": 0.0, "length_seconds": 45}}
            # What the studio's "Pay with the test card" button sends.
            r = web.post("/api/orders", headers=fan,
                         json={"track_id": track["id"], "spec": spec, "payment_method": "pm_card_visa"})
            assert r.status_code == 201, r.text
            placed = r.json()
            assert placed["payment"]["status"] == "succeeded", placed
            assert (placed["order"]["amount_minor"], placed["order"]["currency"]) == (499, "EUR")
            # Only localstripe's signed webhook, delivered to the demo server, makes it paid.
            paid = _wait_until_paid(web, fan, placed["order"]["public_id"])
            assert paid["entitlement"] == "active" and paid["licence_number"]

            finance = {"Authorization": f"Bearer {login(client, 'finance@remix.test', 'finance-demo-password')}"}
            lines = web.get("/api/finance/statements", params={"period": paid["paid_at"][:7]}, headers=finance).json()
            # €4.99 split 60 / 25 / 15 by largest remainder: 299.4, 124.75, 74.85 → 299 + 125 + 75.
            assert {(x["payee_name"], x["currency"], x["sales"]) for x in lines} == {
                ("The Leipzig Consort", "EUR", 299), ("Consort Classics (label)", "EUR", 125),
                ("Remix (platform)", "EUR", 75)}
            assert web.get("/api/finance/reconciliation", headers=finance).json()["ok"]
    assert stand_in.process.poll() is not None  # stopped with the block, as the demo stops it on exit


def _wait_until_paid(web: httpx.Client, headers: dict[str, str], public_id: str) -> dict[str, Any]:
    """localstripe delivers its webhooks about a second after the payment."""
    deadline = time.monotonic() + 20
    while True:
        order: dict[str, Any] = web.get(f"/api/orders/{public_id}", headers=headers).json()
        if order["status"] != "pending" or time.monotonic() > deadline:
            assert order["status"] == "paid", order
            return order
        time.sleep(0.1)


# `remix demo`'s serving step on an empty app, in its own process, so that a real signal can stop it.
SERVE_DEMO = """
import sys
from pathlib import Path
from fastapi import FastAPI
from remix.cli import _serve_demo
_serve_demo(FastAPI(), Path(sys.argv[1]), "127.0.0.1", int(sys.argv[2]), True)
"""


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_the_demo_stops_its_local_stripe_when_it_is_stopped(stop: signal.Signals, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIX_STRIPE_")}
    demo = subprocess.Popen([sys.executable, "-c", SERVE_DEMO, str(tmp_path), str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stand_in: psutil.Process | None = None
    try:
        assert demo.stdout is not None
        said = [demo.stdout.readline() for _ in range(2)]
        assert said[0].startswith("payments: local Stripe stand-in (localstripe, test mode) at http://"), said
        assert said[1].startswith(f"serving on http://127.0.0.1:{port}/"), said
        stand_in_url = said[0].split(" at ")[1].split(",")[0]
        assert httpx.get(f"{stand_in_url}/v1/customers", timeout=5).status_code == 401  # up (wants a key)
        (stand_in,) = psutil.Process(demo.pid).children()  # the localstripe process
        demo.send_signal(stop)
        demo.wait(timeout=20)
        psutil.wait_procs([stand_in], timeout=10)
        assert not stand_in.is_running()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
        if stand_in is not None and stand_in.is_running():  # never leave one behind, even when failing
            stand_in.kill()
