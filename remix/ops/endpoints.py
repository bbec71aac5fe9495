"""Liveness, readiness and metrics for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from remix import __version__
from remix.config import Settings
from remix.ops.metrics import Metrics
from remix.ops.middleware import RequestContextMiddleware

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers (restart it if not). Checks nothing else, on purpose: a database outage
    must not make an orchestrator restart every API process at once."""
    return {"status": "ok", "version": __version__}


def _check(probe: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # any failure means "not ready"; the reason goes to the operator
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


@router.get("/readyz", responses={503: {"description": "A dependency (database, Redis) does not answer"}})
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers, and Redis too when ``REMIX_REDIS_URL`` is set. 503 names what failed,
    so a load balancer stops sending traffic here until it recovers."""
    settings: Settings = request.app.state.settings

    def database() -> None:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    checks = {"database": _check(database)}
    if settings.redis_url:
        from remix.scale.redis_conn import redis_client

        checks["redis"] = _check(lambda: redis_client(settings.redis_url).ping())
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: request counts and latency per route, open websockets, live sessions, jobs."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install_ops(app: FastAPI, settings: Settings) -> None:
    """Health, readiness and metrics routes, request ids and access logs on every request.

    Log *formatting* is set by the process entry points (``remix serve``, ``remix worker``) with
    :func:`remix.ops.logs.configure_logging`, not here: an app built inside tests must not take over logging."""
    app.state.metrics = Metrics()
    app.include_router(router)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
