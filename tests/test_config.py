"""Settings come from REMIX_* variables, and production refuses to start with a placeholder secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from remix.app import create_app
from remix.config import PLACEHOLDER_SECRETS, Settings, get_settings

LONG_SECRET = "f3a9c1d07b2e4c58a6d9e0b1c2f3a4b5c6d7e8f9"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No REMIX_* variable or .env file from the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("REMIX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("secret", [*sorted(PLACEHOLDER_SECRETS - {""}), "", "  Change-Me  "])
def test_production_refuses_a_placeholder_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="REMIX_SECRET_KEY"):
        Settings(environment="production", secret_key=secret)


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIX_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="REMIX_SECRET_KEY"):
        Settings()


def test_the_app_does_not_start_in_production_with_the_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIX_ENVIRONMENT", "production")
    monkeypatch.setenv("REMIX_SECRET_KEY", "change-me")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationError, match="REMIX_SECRET_KEY is a placeholder"):
            create_app()
    finally:
        get_settings.cache_clear()


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="REMIX_SECRET_KEY must be at least 32 characters"):
        Settings(environment="production", secret_key="s3cr3t-but-short")


def test_production_starts_with_a_long_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIX_ENVIRONMENT", "production")
    monkeypatch.setenv("REMIX_SECRET_KEY", LONG_SECRET)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.secret_key == LONG_SECRET


@pytest.mark.parametrize("environment", ["development", "test"])
def test_placeholder_secret_is_fine_outside_production(environment: str) -> None:
    assert Settings(environment=environment).secret_key == "development-only-secret"


def test_remix_prefix_is_read_and_unprefixed_names_are_not(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMIX_DATABASE_URL", "postgresql+psycopg://remix@db.internal/remix")
    monkeypatch.setenv("REMIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REMIX_MAX_IMAGE_BYTES", "1234")
    monkeypatch.setenv("REMIX_MIGRATE_ON_START", "false")
    monkeypatch.setenv("SESSION_TTL_HOURS", "1")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://remix@db.internal/remix"
    assert settings.asset_dir == tmp_path / "data" / "assets"
    assert settings.max_image_bytes == 1234
    assert settings.migrate_on_start is False
    assert settings.session_ttl_hours == 24 * 7


def test_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"REMIX_ENVIRONMENT=production\nREMIX_SECRET_KEY={LONG_SECRET}\n")
    assert Settings().environment == "production"


def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIX_ENVIRONMENT", "staging")
    with pytest.raises(ValidationError, match="environment"):
        Settings()
