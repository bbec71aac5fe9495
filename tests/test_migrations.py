"""Migrations build the schema the ORM expects, from an empty database, on SQLite and PostgreSQL, and undo it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.engine import Engine

import remix.db
from remix.db import migrate
from remix.models_registry import Base
from tests.conftest import POSTGRES_URL

MIGRATIONS = Path(remix.db.__file__).parent / "migrations"
IMMUTABLE = {"audit_events", "consent_grants", "consent_revocations"}


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))


def guards(engine: Engine) -> set[str]:
    """Tables that have an append-only trigger."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = conn.execute(text("SELECT event_object_table FROM information_schema.triggers"))
        return {row[0] for row in rows}


def assert_round_trip(url: str) -> None:
    migrate(url)
    engine = create_engine(url)
    try:
        assert schema_differences(engine) == []
        assert set(inspect(engine).get_table_names()) == {*Base.metadata.tables, "alembic_version"}
        assert guards(engine) >= IMMUTABLE

        command.downgrade(alembic_config(url), "base")
        engine.dispose()
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        assert guards(engine) == set()
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname LIKE '%append_only'")).scalar() \
                    == 0

        migrate(url)  # the downgrade left nothing behind that would stop a fresh upgrade
        engine.dispose()
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_sqlite_from_empty(tmp_path: Path) -> None:
    path = tmp_path / "brand-new.db"
    assert not path.exists()
    assert_round_trip(f"sqlite:///{path}")


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("set REMIX_TEST_DATABASE_URL to test migrations on PostgreSQL")
    name = f"remix_migrations_{uuid.uuid4().hex[:12]}"
    server = create_engine(make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_postgresql_from_empty(empty_postgres_database: str) -> None:
    assert_round_trip(empty_postgres_database)
