"""Database engine, ORM base and the per-request session that commits or rolls back.

Services never commit: the request's session dependency does, so one request is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Primary keys are INTEGER: on PostgreSQL nothing above this exists, and comparing a larger value fails.
MAX_INTEGER_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def close_engine(engine: Engine) -> None:
    """Shut ``engine`` down: close its pooled connections now, and each connection still in use (a background
    thread's — a live session's consent check, a save on disconnect) as soon as it is returned.

    ``Engine.dispose()`` alone lets such a connection go back into the discarded pool, where the garbage
    collector later finds it unclosed (psycopg: "connection … was deleted while still open"). Nothing is
    pooled after this call; the replacement pool that ``dispose()`` installs inherits the listener.
    """
    event.listen(engine.pool, "checkin", _close_on_return)
    engine.dispose()


def _close_on_return(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.invalidate()  # closes the DBAPI connection; the pool keeps only the empty record


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on any error."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        roll_back(session)
        raise
    finally:
        session.close()


ROLLBACK_HOOKS = "remix.rollback_hooks"


def roll_back(session: Session) -> None:
    """Roll the transaction back, then run its :func:`on_rollback` undos (files written for it, …)."""
    session.rollback()
    for undo in session.info.pop(ROLLBACK_HOOKS, []):
        undo()


def on_rollback(session: Session, undo: Callable[[], None]) -> None:
    """Run ``undo`` if the request's transaction rolls back (e.g. delete a file written for it)."""
    session.info.setdefault(ROLLBACK_HOOKS, []).append(undo)


SessionDep = Annotated[Session, Depends(get_session)]


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")
