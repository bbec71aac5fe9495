"""App shutdown: no database connection outlives it unclosed, even one a background thread still holds, and a
server stops its live mixer processes and releases their semaphores."""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from websockets.sync.client import connect

from remix.app import create_app
from remix.auth import service as accounts
from remix.auth.models import Role
from remix.catalog import service as catalog
from remix.config import Settings
from remix.db import make_engine, make_sessionmaker, migrate
from remix.live.protocol import FrameKind, unpack_frame
from tests.audio.conftest import write_chorale_stems
from tests.conftest import PASSWORD
from tests.faults.cluster import ServiceProcess
from tests.loopback import free_port


def test_a_connection_a_thread_holds_at_shutdown_is_closed_when_it_is_returned(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app):
        in_flight = app.state.sessionmaker()  # a live session's consent check, still running at shutdown
        in_flight.execute(text("SELECT 1"))
        held = in_flight.connection().connection.dbapi_connection
        idle = app.state.sessionmaker()
        idle.execute(text("SELECT 1"))
        pooled = idle.connection().connection.dbapi_connection
        idle.close()
    in_flight.close()  # the check finishes after the app shut down
    gc.collect()  # an unclosed psycopg connection would warn here ("deleted while still open"): an error in tests
    for connection in (held, pooled):
        assert connection is not None
        with pytest.raises((psycopg.OperationalError, sqlite3.ProgrammingError)):
            connection.cursor().execute("SELECT 1")


def test_a_server_stopped_with_sigterm_stops_its_live_mixers_and_leaks_no_semaphores(tmp_path: Path) -> None:
    """`remix serve` stopped by SIGTERM while a fan plays: the mixer processes end with it, and the resource
    tracker finds nothing to clean up (uvicorn kills itself with the SIGTERM after its graceful shutdown, so
    only the app's own shutdown can release the mixer pool)."""
    url = f"sqlite:///{tmp_path / 'remix.db'}"
    migrate(url)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        admin = accounts.create_user(session, email="admin@shutdown.test", display_name="Admin", password=PASSWORD,
                                     role=Role.admin)
        artist = catalog.create_artist(session, admin, "The Shutdown Consort", "")
        album = catalog.create_album(session, admin, artist.id, "Last Orders", 2026)
        track_id = catalog.create_track(session, admin, album.id, "BWV 66.6", 1, 135.0, "F# minor").id
        album_id = album.id
        accounts.create_user(session, email="artist@shutdown.test", display_name="Artist", password=PASSWORD,
                             role=Role.artist, artist_ids=[artist.id])
        accounts.create_user(session, email="fan@shutdown.test", display_name="Fan", password=PASSWORD, role=Role.fan)
    engine.dispose()
    env = {**os.environ, "REMIX_DATABASE_URL": url, "REMIX_DATA_DIR": str(tmp_path / "data"),
           "REMIX_ENVIRONMENT": "development", "REMIX_MIGRATE_ON_START": "false", "REMIX_LOG_FORMAT": "text"}
    port = free_port()
    server = ServiceProcess("api", ["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path, port=port)
    server.start()
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            def bearer(email: str) -> dict[str, str]:
                r = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
                assert r.status_code == 200, r.text
                return {"Authorization": f"Bearer {r.json()['token']}"}

            artist_headers = bearer("artist@shutdown.test")
            for name, path in write_chorale_stems(tmp_path, 3.0).items():
                r = http.post(f"/api/tracks/{track_id}/stems", headers=artist_headers, data={"stem_name": name},
                              files={"file": (path.name, path.read_bytes(), "audio/wav")})
                assert r.status_code == 201, r.text
            r = http.post("/api/consent/grants", headers=artist_headers,
                          json={"scope": "remix_preview", "album_id": album_id})
            assert r.status_code == 201, r.text
            fan_headers = bearer("fan@shutdown.test")
        assert server.process is not None
        with connect(f"ws://127.0.0.1:{server.port}/api/tracks/{track_id}/live", additional_headers=fan_headers,
                     open_timeout=30) as fan:
            assert json.loads(fan.recv(30))["type"] == "state"
            fan.send(json.dumps({"type": "play", "id": "play"}))
            deadline = time.monotonic() + 120  # the mixer processes take seconds to start on a busy machine
            while True:  # the fan hears the first chunk: the mixers run
                message = fan.recv(max(0.1, deadline - time.monotonic()))
                if isinstance(message, bytes) and unpack_frame(message).kind == FrameKind.audio_wav:
                    break
            children = psutil.Process(server.process.pid).children(recursive=True)  # mixers, resource tracker
            assert any("spawn_main" in " ".join(child.cmdline()) for child in children)
            server.process.send_signal(signal.SIGTERM)  # stopped under a playing fan
            server.process.wait(30)
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"still running after the server stopped: {alive}"
        log = server.log_path.read_text(errors="replace")
        assert "leaked semaphore" not in log, server.log_tail()
        assert "Traceback" not in log, server.log_tail()  # chunks cancelled by the shutdown are no failure
    finally:
        server.stop()
