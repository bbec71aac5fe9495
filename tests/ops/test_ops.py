"""Health, readiness, Prometheus metrics and JSON access logs with request ids."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from fastapi.testclient import TestClient

from remix.app import create_app
from remix.config import Settings
from remix.ops.logs import JsonFormatter

REDIS_URL = "redis://127.0.0.1:6379/15"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_liveness_answers_without_login(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["checks"]["database"]["ok"] is True
    assert "redis" not in body["checks"]  # the embedded default has no Redis to check


def test_ready_checks_redis_when_configured(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"redis_url": REDIS_URL}))) as client:
        body = client.get("/readyz").json()
    assert body["status"] == "ready" and body["checks"]["redis"]["ok"] is True


def test_not_ready_names_the_dependency_that_is_down(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    with TestClient(create_app(down)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False and "Connection" in body["checks"]["redis"]["error"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    for track in (123, 456):
        assert client.get(f"/api/tracks/{track}").status_code == 401
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    # Both ids land on one series: labels are route templates, so their number stays bounded.
    assert 'remix_http_requests_total{method="GET",route="/api/tracks/{track_id}",status="401"} 2.0' in lines
    assert any(line.startswith('remix_http_request_duration_seconds_count{method="GET",route="/api/tracks/{track_id}"}')
               for line in lines)
    assert "remix_live_sessions 0.0" in lines


def test_every_response_carries_a_request_id_and_a_json_access_line(client: TestClient,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="remix.access"):
        chosen = client.get("/api/auth/me", headers={"X-Request-ID": "lb-42.a"})
        generated = client.get("/healthz")
        hostile = client.get("/healthz", headers={"X-Request-ID": "x\" injected"})
    assert chosen.headers["x-request-id"] == "lb-42.a"
    assert len(generated.headers["x-request-id"]) == 16
    assert hostile.headers["x-request-id"] != "x\" injected"  # not echoed: it could forge log lines
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "remix.access"]
    me = next(line for line in lines if line["request_id"] == "lb-42.a")
    assert me["route"] == "/api/auth/me" and me["status"] == 401 and me["level"] == "info"
    assert me["duration_ms"] >= 0 and me["message"] == "GET /api/auth/me 401"


def test_an_unexpected_fault_answers_500_with_the_request_id_as_its_reference(settings: Settings,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(settings)

    def broken() -> None:
        raise RuntimeError("the disk went away")

    app.add_api_route("/api/broken-for-this-test", broken)
    with TestClient(app) as test_client, caplog.at_level(logging.ERROR, logger="remix.errors"):
        answer = test_client.get("/api/broken-for-this-test", headers={"X-Request-ID": "support-7"})
    # Before, Starlette's outermost error handler answered a bare "Internal Server Error" without the id.
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "support-7"
    body = answer.json()
    assert body["error"] == "ServerError" and "reference support-7" in body["detail"]
    assert "disk" not in body["detail"]  # the fault's own words stay in the log
    (logged,) = [r for r in caplog.records if r.name == "remix.errors"]
    assert logged.request_id == "support-7" and logged.exc_info is not None  # type: ignore[attr-defined]
    assert "the disk went away" in JsonFormatter().format(logged)
