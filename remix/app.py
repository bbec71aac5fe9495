"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from remix import __version__
from remix.audio.endpoints import router as audio_router
from remix.audio.licence import install_entitlement_check
from remix.audit.endpoints import router as audit_router
from remix.auth.endpoints import router as auth_router
from remix.catalog.endpoints import consent_router
from remix.catalog.endpoints import router as catalog_router
from remix.commerce.endpoints import finance_router as commerce_finance_router
from remix.commerce.endpoints import router as commerce_router
from remix.commerce.entitlements import has_entitlement
from remix.config import Settings, get_settings
from remix.db import close_engine, make_engine, make_sessionmaker, migrate
from remix.errors import install_error_handlers
from remix.gc_policy import settle_heap
from remix.live.endpoints import router as live_router
from remix.live.mixer import shutdown_mixer_pools
from remix.ops.endpoints import install_ops
from remix.provenance.endpoints import router as provenance_router
from remix.scale.install import install_scale_out
from remix.visuals.endpoints import router as visuals_router
from remix.visuals.service import fail_interrupted_training

DEFAULT_FRONTEND = Path(__file__).resolve().parent.parent / "frontend"

DESCRIPTION = """
A consent-first fan remix service. Artists grant named uses (`train_visual`, `remix_preview`,
`download_clip`, `sell_extended`) of their artwork and stems; nothing is used without a live grant.

Authenticate with `POST /api/auth/login`, then send `Authorization: Bearer <token>` (the browser
uses the `remix_session` cookie). Errors are `{"error": "<Kind>", "detail": "<what to fix>"}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.environment != "test":
            # Tests keep the interpreter's collector as it is: a run builds hundreds of apps, and where a
            # leaked resource's warning is raised depends on when the collector runs.
            settle_heap()
        yield
        if settings.environment != "test":
            # The live mixer processes end with the server (see shutdown_mixer_pools). Tests share one pool
            # across the hundreds of apps a run builds (a mixer takes seconds to start); it stops at exit.
            await asyncio.to_thread(shutdown_mixer_pools)
        close_engine(app.state.engine)

    if settings.migrate_on_start:
        migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    app = FastAPI(title="Remix", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    if settings.migrate_on_start:
        # A process that died mid-training left its model 'training'; mark it failed so it can be retried.
        with app.state.sessionmaker.begin() as session:
            fail_interrupted_training(session)
    install_error_handlers(app)
    # Versions longer than the free 30 s clip render only for a fan who bought that exact spec.
    install_entitlement_check(lambda session, user, track_id, spec_hash: has_entitlement(
        session, user.id, track_id, spec_hash))
    for router in (auth_router, catalog_router, consent_router, audit_router, commerce_router, commerce_finance_router,
                   audio_router, visuals_router, provenance_router, live_router):
        app.include_router(router)

    # /healthz, /readyz, /metrics; request ids and access logs on every request.
    install_ops(app, settings)
    install_scale_out(app, settings)  # production mode (REMIX_REDIS_URL): live session state in Redis
    app.state.metrics.watch_live_sessions(
        lambda: float(getattr(getattr(app.state, "live_hub", None), "session_count", 0)))

    frontend = settings.frontend_dir or DEFAULT_FRONTEND
    if frontend.is_dir():
        app.mount("/app", StaticFiles(directory=frontend, html=True), name="frontend")

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/app/")

    return app
