"""`remix` command line: serve, worker, demo, migrate, audit-verify, create-user."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, ParamSpec, TypeVar

import pydantic
import typer
from sqlalchemy.exc import ArgumentError, OperationalError

from remix.auth.models import Role
from remix.errors import RemixError
from remix.visuals.models import VisualBase

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(help="Remix: a consent-first fan remix service.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

P = ParamSpec("P")
R = TypeVar("R")


def operator_errors(command: Callable[P, R]) -> Callable[P, R]:
    """What an operator can get wrong (settings, the database URL, a refused request) ends the command with one
    line saying what, and a non-zero status; a traceback is left for bugs."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RemixError as exc:  # no consent, unknown album, taken email, …
            _fail(f"refused: {exc.detail}", 2, exc)
        except pydantic.ValidationError as exc:
            if exc.title != "Settings":  # only the REMIX_* environment is the operator's to fix
                raise
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            _fail(f"invalid setting REMIX_{where.upper()}: {problem['msg']}", 2, exc)
        except ArgumentError as exc:
            _fail(f"REMIX_DATABASE_URL is not a database URL: {exc}", 2, exc)
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            _fail(f"cannot use the database in REMIX_DATABASE_URL: {reason}", 1, exc)

    return run


def _fail(message: str, status: int, cause: Exception) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(status) from cause


@app.command()
@operator_errors
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API and frontend (migrates the database first). Logs are JSON lines (REMIX_LOG_FORMAT=text for
    plain); with REMIX_REDIS_URL set, live sessions and render jobs go through Redis (see docs/deploy.md)."""
    import uvicorn

    from remix.app import create_app
    from remix.config import get_settings
    from remix.ops.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    # No per-message deflate on websockets: live audio is PCM that barely compresses, and compressing
    # every chunk and ack took event-loop time that control messages need (see benchmarks/live_load.py).
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, ws_per_message_deflate=False)


@app.command()
@operator_errors
def worker(
    name: Annotated[str | None, typer.Option(help="Consumer name in the Redis group (default: host-pid)")] = None,
    max_batch: Annotated[int, typer.Option(help="Most frames rendered in one pipeline call")] = 32,
) -> None:
    """Render live frames and paid long renders for every API process from Redis streams (needs
    REMIX_REDIS_URL; one per GPU).

    Frame batches of all fans on the same visual model are merged into one pipeline call; batches a killed
    worker left unfinished are taken over by the others within a second, and its paid render within 5 s."""
    from remix.config import get_settings
    from remix.ops.logs import configure_logging
    from remix.scale.worker import FrameWorker

    settings = get_settings()
    if not settings.redis_url:
        raise typer.BadParameter("set REMIX_REDIS_URL (e.g. redis://127.0.0.1:6379/0): workers read jobs from Redis")
    configure_logging(settings.log_format, settings.log_level)
    FrameWorker(settings, name=name, max_batch=max_batch).run()


@app.command()
@operator_errors
def migrate() -> None:
    """Bring the database (REMIX_DATABASE_URL) to the newest schema."""
    from remix.config import get_settings
    from remix.db import migrate as run_migrations

    url = get_settings().database_url
    run_migrations(url)
    typer.echo(f"database at {url} is up to date")


@app.command()
@operator_errors
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after building")] = True,
    local_stripe: Annotated[bool, typer.Option(
        "--local-stripe/--no-local-stripe",
        help="When no Stripe is configured (REMIX_STRIPE_API_BASE unset and the default test key), run localstripe "
             "beside the demo as a local Stripe stand-in (test mode; its signed webhooks come to this server), so "
             "Buy works offline; stopped when the demo exits. --no-local-stripe leaves payments on the configured "
             "Stripe.")] = True,
) -> None:
    """Build the demo album (Bach chorales rendered to stems, scikit-image artwork), load it with payees, approved
    split sheets and prices, and serve; payments go to a local Stripe stand-in unless Stripe is configured."""
    from remix.app import create_app
    from remix.config import get_settings
    from remix.demo.media import build_demo_media
    from remix.demo.seed import DEMO_ACCOUNTS, seed_demo

    settings = get_settings()
    if settings.environment == "production":
        raise typer.BadParameter("the demo creates accounts with published passwords; not in production")
    typer.echo("building the demo album media (first run renders stems with fluidsynth)...")
    media = build_demo_media(settings.data_dir / "demo-media", settings.soundfont_path)
    application = create_app(settings)
    with application.state.sessionmaker.begin() as session:
        seeded = seed_demo(session, settings, media)
    typer.echo(f"demo album '{media.album_title}' by {media.artist_name}: album id {seeded.album_id}"
               f" ({'created' if seeded.created else 'already loaded'})")
    if seeded.created:
        typer.echo(f"demo visual model: {seeded.visual_model}")
    typer.echo(f"for sale: long versions of {seeded.tracks_for_sale} track(s) (approved split sheets, priced)")
    typer.echo("demo accounts (email / password / role):")
    for account in DEMO_ACCOUNTS:
        typer.echo(f"  {account.email:22} {account.password:24} {account.role.value}")
    if serve_after:
        _serve_demo(application, settings.data_dir, host, port, local_stripe)


def _serve_demo(application: FastAPI, data_dir: Path, host: str, port: int, local_stripe: bool) -> None:
    """Serve the demo; with ``local_stripe`` and no Stripe configured, beside a localstripe process that lives
    exactly as long as the server (stopped on a normal exit, Ctrl-C and SIGTERM alike)."""
    import signal

    import uvicorn

    from remix.commerce.config import get_commerce_settings
    from remix.demo.payments import LocalStripe, LocalStripeUnavailable, stripe_is_configured

    commerce = get_commerce_settings()
    stand_in: LocalStripe | None = None
    # uvicorn turns SIGTERM into a graceful stop, then raises it again once it has returned; Python's default
    # action would end the process there without running the ``finally`` below and leave localstripe behind.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    try:
        if local_stripe and not stripe_is_configured(commerce):
            try:
                stand_in = LocalStripe.start(data_dir / "localstripe.log")
                own_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # where localstripe can reach us
                application.state.commerce_settings = stand_in.wire(commerce, f"http://{own_host}:{port}")
            except LocalStripeUnavailable as exc:
                _fail(f"cannot start the local Stripe stand-in: {exc}", 1, exc)
            typer.echo(f"payments: local Stripe stand-in (localstripe, test mode) at {stand_in.url}, webhooks to "
                       f"this server; no real money moves (log: {stand_in.log_path})")
        elif not local_stripe and not stripe_is_configured(commerce):
            typer.echo("payments: no Stripe configured and --no-local-stripe given; Buy will fail until "
                       "REMIX_STRIPE_API_KEY / REMIX_STRIPE_API_BASE are set")
        typer.echo(f"serving on http://{host}:{port}/  (API docs at /docs)")
        uvicorn.run(application, host=host, port=port, ws_per_message_deflate=False)  # see serve()
    finally:
        if stand_in is not None:
            stand_in.stop()


@app.command("audit-verify")
@operator_errors
def audit_verify() -> None:
    """Recompute the audit log's hash chain; exit 1 and name the first tampered event if any."""
    from remix.audit.service import verify_chain
    from remix.config import get_settings
    from remix.db import make_engine, make_sessionmaker

    engine = make_engine(get_settings().database_url)
    with make_sessionmaker(engine)() as session:
        report = verify_chain(session)
    engine.dispose()
    if report.ok:
        typer.echo(f"audit log intact: {report.events_checked} events verified")
        return
    typer.echo(f"audit log TAMPERED at event {report.first_bad_event_id}: {report.problem}", err=True)
    raise typer.Exit(1)


@app.command("create-user")
@operator_errors
def create_user(
    email: str,
    role: Role,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    display_name: str = "",
    artist_id: Annotated[list[int] | None, typer.Option(help="Artist this account acts for")] = None,
) -> None:
    """Create an account of any role (e.g. the first admin)."""
    from remix.auth.service import create_user as create
    from remix.config import get_settings
    from remix.db import make_engine, make_sessionmaker, migrate

    try:  # the rule signup and the admin API apply
        pydantic.TypeAdapter(pydantic.EmailStr).validate_python(email)
    except pydantic.ValidationError as exc:
        raise typer.BadParameter(f"'{email}' is not an email address", param_hint="EMAIL") from exc
    if len(password) < 10:
        raise typer.BadParameter("passwords need at least 10 characters", param_hint="--password")
    settings = get_settings()
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            user = create(session, email=email, display_name=display_name or email, password=password, role=role,
                          artist_ids=artist_id or [])
            typer.echo(f"created {user.role.value} account {user.email} (id {user.id})")
    finally:
        engine.dispose()


@app.command()
@operator_errors
def train(
    album_id: Annotated[int, typer.Option("--album-id", help="Album whose consented artwork to train on")],
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the preset's)")] = None,
    preset: Annotated[str, typer.Option(help="'demo' (64×64, for live visuals) or 'tiny' (seconds, for checks)")]
    = "demo",
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the preset's)")] = None,
    base: Annotated[VisualBase, typer.Option(help="'builtin' (from scratch on the artwork alone) or 'lora' (an "
                                                  "adapter on the operator pipeline in REMIX_VISUAL_BASE_DIR)")]
    = VisualBase.builtin,
) -> None:
    """Train a visual model on the album's artwork that a live train_visual grant covers; it awaits approval."""
    from remix.config import get_settings
    from remix.db import make_engine, make_sessionmaker, migrate
    from remix.visuals import service as visuals

    settings = get_settings()
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    try:
        with factory.begin() as session:
            model = visuals.start_training(session, settings, None, album_id, preset=preset, steps=steps, seed=seed,
                                           base=base)
            model_id, total = model.id, model.steps_total
            typer.echo(f"visual model {model_id}: training on asset(s) {[s.asset_id for s in model.sources]} "
                       f"under grant(s) {model.grant_ids}, {total} steps")
    except RemixError:  # no consent, no base configured, …: operator_errors says why, no traceback
        engine.dispose()
        raise
    every = max(1, total // 20)

    def progress(step: int, steps_total: int, loss: float) -> None:
        if step % every == 0 or step == steps_total:
            typer.echo(f"  {100 * step / steps_total:5.1f}%  step {step}/{steps_total}  loss {loss:.4f}")

    outcome = visuals.run_training(factory, settings, model_id, echo=progress)
    engine.dispose()
    if outcome.error:
        typer.echo(f"visual model {model_id} {outcome.status.value}: {outcome.error}", err=True)
        raise typer.Exit(1)
    typer.echo(f"visual model {model_id} is {outcome.status.value}; manifest hash {outcome.manifest_hash}")
    typer.echo(f"checkpoint, samples.png and manifest.json are in {visuals.model_dir(settings, model_id)}")


if __name__ == "__main__":
    app()
