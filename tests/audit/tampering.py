"""What an attacker with write access to the database does: remove the append-only guard, then edit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

from remix.db import make_engine

# The guards created by migration 0001; PostgreSQL keeps its trigger function when the trigger is dropped.
SQLITE_GUARDS = ("audit_events_no_update", "audit_events_no_delete")
POSTGRES_GUARD = "audit_events_append_only"


@contextmanager
def unguarded_audit_log(database_url: str) -> Iterator[Connection]:
    """A connection on which audit_events can be edited. The guard is put back afterwards (the PostgreSQL
    test database outlives the test; each SQLite test has its own copy)."""
    engine = make_engine(database_url)
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as conn:
            if postgres:
                conn.execute(text(f"DROP TRIGGER {POSTGRES_GUARD} ON audit_events"))
            else:
                for trigger in SQLITE_GUARDS:
                    conn.execute(text(f"DROP TRIGGER {trigger}"))
            yield conn
    finally:
        if postgres:
            with engine.begin() as conn:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {POSTGRES_GUARD} ON audit_events"))
                conn.execute(text(f"CREATE TRIGGER {POSTGRES_GUARD} BEFORE UPDATE OR DELETE ON audit_events "
                                  f"FOR EACH ROW EXECUTE FUNCTION {POSTGRES_GUARD}()"))
        engine.dispose()
