"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL when REMIX_TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from remix.app import create_app
from remix.auth import service as accounts
from remix.auth.models import Role
from remix.catalog import service as catalog
from remix.config import Settings
from remix.db import make_engine, make_sessionmaker, migrate
from remix.demo.media import DemoAlbumMedia, build_demo_media
from remix.models_registry import Base
from tests.password_hashing import cheap_password_hashing  # noqa: F401  (autouse, every test)

POSTGRES_URL = os.environ.get("REMIX_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test gets a copy (much faster than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    migrate(POSTGRES_URL)
    return POSTGRES_URL


def truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "remix.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    truncate_all(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(environment="test", database_url=database_url, data_dir=tmp_path / "data",
                    migrate_on_start=False, max_image_bytes=2 * 1024 * 1024, max_audio_bytes=4 * 1024 * 1024)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def db(client: TestClient) -> Iterator[Session]:
    """A session on the app's own database, for arranging data and inspecting what endpoints wrote."""
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        yield session


@dataclass
class World:
    """Two artists (each with an album and a track) and one account of every role."""

    client: TestClient
    user_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    artist_ids: dict[str, int] = field(default_factory=dict)
    album_ids: dict[str, int] = field(default_factory=dict)
    track_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def build_world(client: TestClient) -> World:
    """Two artists (each with an album and a track) and one account of every role, all logged in.

    The client keeps no login cookie afterwards, so a request without a bearer token is anonymous.
    """
    w = World(client=client)
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory.begin() as session:
        admin = accounts.create_user(session, email="admin@test.example", display_name="Admin",
                                     password=PASSWORD, role=Role.admin)
        for key, name in (("alpha", "Alpha Band"), ("beta", "Beta Choir")):
            artist = catalog.create_artist(session, admin, name, "")
            w.artist_ids[key] = artist.id
            album = catalog.create_album(session, admin, artist.id, f"{name} LP", 2026)
            w.album_ids[key] = album.id
            track = catalog.create_track(session, admin, album.id, f"{name} Song", 1, 96.0, "C major")
            w.track_ids[key] = track.id
        w.user_ids["admin"] = admin.id
        specs = {
            "fan": (Role.fan, []),
            "finance": (Role.finance, []),
            "alpha": (Role.artist, [w.artist_ids["alpha"]]),
            "beta": (Role.artist, [w.artist_ids["beta"]]),
        }
        for key, (role, artist_ids) in specs.items():
            user = accounts.create_user(session, email=f"{key}@test.example", display_name=key,
                                        password=PASSWORD, role=role, artist_ids=artist_ids)
            w.user_ids[key] = user.id
    for key in ("admin", "fan", "finance", "alpha", "beta"):
        w.tokens[key] = login(client, f"{key}@test.example")
    client.cookies.clear()
    return w


@pytest.fixture
def world(client: TestClient) -> World:
    return build_world(client)


def engine_session(url: str) -> Session:
    return make_sessionmaker(make_engine(url))()


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> DemoAlbumMedia:
    """The real demo album (Bach chorales rendered with fluidsynth), built once per test session."""
    return build_demo_media(tmp_path_factory.mktemp("demo-media"))
