"""Commerce fixtures: a localstripe server (separate process), a sellable track, and signed Stripe events."""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile
from fastapi.testclient import TestClient

from remix.commerce.config import CommerceSettings
from tests.conftest import World
from tests.loopback import free_port, served

WEBHOOK_SECRET = "whsec_remix_tests"
VENV_PYTHON = str(Path(sys.executable))


def wait_for_http(url: str, process: subprocess.Popen[bytes] | None = None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real localstripe server in its own process on a free loopback port; yields its base URL."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("localstripe")
    log = (workdir / "localstripe.log").open("wb")
    process = subprocess.Popen([VENV_PYTHON, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                               cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/v1/customers", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def commerce_settings(client: TestClient, localstripe: str) -> CommerceSettings:
    cs = CommerceSettings(stripe_api_key="sk_test_remix", stripe_webhook_secret=WEBHOOK_SECRET,
                          stripe_api_base=localstripe, render_on_payment=False)
    client.app.state.commerce_settings = cs  # type: ignore[attr-defined]
    return cs


def wav_bytes(frequency: float, seconds: float = 1.0, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.2 * np.sin(2 * np.pi * frequency * t), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# The split the tests sell under: artist 40.01 %, label 29.99 %, songwriter 20 %, platform 10 %.
SPLIT = (("artist", 4001), ("label", 2999), ("songwriter", 2000), ("platform", 1000))


@dataclass
class Shop:
    """World plus a sellable track: stems, a sell_extended grant, four payees and an approved split sheet."""

    world: World
    track_id: int
    album_id: int
    payee_ids: dict[str, int] = field(default_factory=dict)
    split_sheet_id: int = 0
    grant_id: int = 0
    _spec_counter: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def client(self) -> TestClient:
        return self.world.client

    def h(self, who: str) -> dict[str, str]:
        return self.world.headers(who)

    def set_price(self, price_minor: int, currency: str, product: str = "full_length") -> None:
        r = self.client.put(f"/api/tracks/{self.track_id}/products/{product}", headers=self.h("finance"),
                            json={"price_minor": price_minor, "currency": currency, "licence_days": 365})
        assert r.status_code == 200, r.text

    def spec(self) -> dict[str, Any]:
        # A distinct, valid RemixSpec per order: the tempo varies, so each has its own hash.
        return {"tempo": 1.0 + next(self._spec_counter) / 1000, "stems": {"drums": {"gain_db": -3.0}},
                "window": {"start_seconds": 0.0, "length_seconds": 1.0}}

    def order(self, payment_method: str | None = None, spec: dict[str, Any] | None = None,
              who: str = "fan") -> dict[str, Any]:
        r = self.client.post("/api/orders", headers=self.h(who),
                             json={"track_id": self.track_id, "spec": spec or self.spec(),
                                   "payment_method": payment_method})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


def approve_split(world: World, track_id: int, lines: list[dict[str, Any]]) -> int:
    c = world.client
    r = c.post(f"/api/tracks/{track_id}/split-sheets", json={"lines": lines}, headers=world.headers("finance"))
    assert r.status_code == 201, r.text
    sheet_id: int = r.json()["id"]
    r = c.post(f"/api/split-sheets/{sheet_id}/accept", headers=world.headers("alpha"))
    assert r.status_code == 200, r.text
    r = c.post(f"/api/split-sheets/{sheet_id}/approve", headers=world.headers("finance"))
    assert r.status_code == 200, r.text
    return sheet_id


@pytest.fixture
def shop(world: World, commerce_settings: CommerceSettings) -> Shop:
    c = world.client
    track_id, album_id = world.track_ids["alpha"], world.album_ids["alpha"]
    for name, freq in (("drums", 110.0), ("bass", 55.0)):
        r = c.post(f"/api/tracks/{track_id}/stems", headers=world.headers("alpha"), data={"stem_name": name},
                   files={"file": (f"{name}.wav", wav_bytes(freq), "audio/wav")})
        assert r.status_code == 201, r.text
    r = c.post("/api/consent/grants", json={"scope": "sell_extended", "album_id": album_id},
               headers=world.headers("alpha"))
    assert r.status_code == 201, r.text
    s = Shop(world=world, track_id=track_id, album_id=album_id, grant_id=r.json()["id"])
    for role, _ in SPLIT:
        body: dict[str, Any] = {"name": f"{role.title()} Payee"}
        if role == "artist":
            body["artist_id"] = world.artist_ids["alpha"]
        r = c.post("/api/finance/payees", json=body, headers=world.headers("finance"))
        assert r.status_code == 201, r.text
        s.payee_ids[role] = r.json()["id"]
    s.split_sheet_id = approve_split(world, track_id, [
        {"payee_id": s.payee_ids[role], "role": role, "basis_points": bp} for role, bp in SPLIT
    ])
    s.set_price(999, "EUR")
    return s


# --- Stripe events built and signed the way Stripe signs them ----------------------------------------

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):08d}{int(time.time() * 1000) % 100000:05d}"


def stripe_signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: ``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint secret>``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(kind: str, obj: dict[str, Any], *, created: int | None = None, event_id: str | None = None) -> dict[str, Any]:
    return {"id": event_id or new_id("evt"), "object": "event", "type": kind, "api_version": "2024-06-20",
            "created": int(time.time()) if created is None else created, "livemode": False,
            "data": {"object": obj}}


def payment_succeeded(pi: str, amount: int, currency: str) -> dict[str, Any]:
    return event("payment_intent.succeeded", {"id": pi, "object": "payment_intent", "amount": amount,
                                              "amount_received": amount, "currency": currency.lower(),
                                              "status": "succeeded"})


def refund_created(pi: str, amount: int, currency: str, refund_id: str | None = None) -> dict[str, Any]:
    return event("refund.created", {"id": refund_id or new_id("re"), "object": "refund", "amount": amount,
                                    "currency": currency.lower(), "payment_intent": pi, "status": "succeeded"})


def dispute(kind: str, dispute_id: str, pi: str, amount: int, currency: str, status: str) -> dict[str, Any]:
    return event(kind, {"id": dispute_id, "object": "dispute", "amount": amount, "currency": currency.lower(),
                        "payment_intent": pi, "charge": "ch_x", "status": status, "reason": "fraudulent"})


def deliver(client: TestClient | httpx.Client, evt: dict[str, Any], *, secret: str = WEBHOOK_SECRET,
            timestamp: int | None = None) -> httpx.Response:
    payload = json.dumps(evt).encode()
    return client.post("/api/commerce/stripe/webhook", content=payload,
                       headers={"Stripe-Signature": stripe_signature(payload, secret, timestamp),
                                "Content-Type": "application/json"})


@dataclass
class LiveApp:
    base_url: str


@pytest.fixture
def live_app(client: TestClient, shop: Shop, localstripe: str) -> Iterator[LiveApp]:
    """The same app (same database) also listening on a loopback port, with localstripe's webhooks aimed at it."""
    with served(client.app) as base:
        r = httpx.post(f"{localstripe}/_config/webhooks/remix",
                       data={"url": f"{base}/api/commerce/stripe/webhook", "secret": WEBHOOK_SECRET})
        assert r.status_code == 200, r.text
        yield LiveApp(base)
