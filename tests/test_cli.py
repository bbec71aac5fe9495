"""The `remix` command line as an operator uses it: REMIX_DATABASE_URL in the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from remix.cli import app
from remix.config import get_settings
from remix.db import make_engine
from tests.audit.tampering import unguarded_audit_log
from tests.conftest import World, login


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """get_settings() is cached per process; each command here must read its own environment."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def remix(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"REMIX_DATABASE_URL": database_url, "REMIX_ENVIRONMENT": "test"})


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "demo", "migrate", "audit-verify", "create-user"):
        assert command in result.output


def test_audit_verify_passes_an_intact_log(world: World, database_url: str) -> None:
    result = remix(database_url, "audit-verify")
    assert result.exit_code == 0, result.output
    assert "audit log intact: 11 events verified" in result.output


def test_audit_verify_names_the_tampered_event(world: World, database_url: str) -> None:
    with unguarded_audit_log(database_url) as conn:
        conn.execute(text("UPDATE audit_events SET payload = '{\"name\":\"Forged\"}' WHERE id = 5"))

    result = remix(database_url, "audit-verify")
    assert result.exit_code == 1
    assert "audit log TAMPERED at event 5: content does not match its hash" in result.stderr


def test_audit_verify_names_the_event_after_a_deleted_one(world: World, database_url: str) -> None:
    with unguarded_audit_log(database_url) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = 3"))

    result = remix(database_url, "audit-verify")
    assert result.exit_code == 1
    assert "audit log TAMPERED at event 4: link to the previous event is broken" in result.stderr


def test_create_user_makes_an_account_that_can_log_in(world: World, database_url: str) -> None:
    result = remix(database_url, "create-user", "ops@test.example", "admin", "--password", "operator password",
                   "--display-name", "Ops")
    assert result.exit_code == 0, result.output
    assert "created admin account ops@test.example" in result.output
    token = login(world.client, "ops@test.example", "operator password")
    me = world.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["display_name"]) == ("admin", "Ops")


def test_migrate_builds_a_new_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    result = remix(url, "migrate")
    assert result.exit_code == 0, result.output
    assert f"database at {url} is up to date" in result.output
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
    engine.dispose()


def test_create_user_refuses_a_taken_email_without_a_traceback(world: World, database_url: str) -> None:
    result = remix(database_url, "create-user", "fan@test.example", "admin", "--password", "long enough pw")
    assert result.exit_code == 2
    assert "already exists" in result.output and "Traceback" not in result.output


def one_line_refusal(result: Result, status: int, says: str) -> None:
    """The operator's mistake ends the command with ``status`` and one line saying what: no traceback."""
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert says in result.output and "Traceback" not in result.output, result.output


def test_create_user_refuses_what_is_not_an_email_address(world: World, database_url: str) -> None:
    result = remix(database_url, "create-user", "ops-at-example", "admin", "--password", "long enough pw")
    one_line_refusal(result, 2, "'ops-at-example' is not an email address")


@pytest.mark.parametrize("command", [["migrate"], ["audit-verify"],
                                     ["create-user", "ops@test.example", "admin", "--password", "long enough pw"],
                                     ["train", "--album-id", "1"]])
def test_an_unreachable_database_is_one_line_not_a_traceback(command: list[str]) -> None:
    nobody_listens = "postgresql+psycopg://postgres@127.0.0.1:1/remix"
    one_line_refusal(remix(nobody_listens, *command), 1, "cannot use the database in REMIX_DATABASE_URL: ")


def test_a_malformed_database_url_or_setting_is_one_line_not_a_traceback() -> None:
    one_line_refusal(remix("not a url", "migrate"), 2, "REMIX_DATABASE_URL is not a database URL")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["migrate"], env={"REMIX_DATABASE_URL": "sqlite://", "REMIX_ENVIRONMENT": "prod"})
    one_line_refusal(result, 2, "invalid setting REMIX_ENVIRONMENT: Input should be 'development', 'test' or")


def test_train_on_an_unknown_album_is_refused_in_one_line(world: World, database_url: str) -> None:
    one_line_refusal(remix(database_url, "train", "--album-id", "999"), 2, "refused: album 999 does not exist")
