"""Logging in and out: bearer tokens, the browser cookie, expiry and the password hash."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from remix.auth.deps import SESSION_COOKIE
from remix.auth.models import LoginSession, User
from remix.auth.passwords import hash_password, verify_password
from remix.config import Settings
from remix.db import utcnow
from tests.conftest import PASSWORD, World, login


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "Unauthorized"


def test_login_returns_a_token_naming_the_account(world: World, settings: Settings) -> None:
    response = world.client.post("/api/auth/login", json={"email": "ALPHA@test.example", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": world.user_ids["alpha"], "email": "alpha@test.example", "display_name": "alpha",
                            "role": "artist", "artist_ids": [world.artist_ids["alpha"]]}
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert abs(expires_at - (utcnow() + timedelta(hours=settings.session_ttl_hours))) < timedelta(minutes=1)
    me = world.client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["email"] == "alpha@test.example"


@pytest.mark.parametrize(("email", "password"), [
    ("alpha@test.example", "wrong password"),
    ("nobody@test.example", PASSWORD),
])
def test_wrong_password_and_unknown_email_get_the_same_answer(world: World, email: str, password: str) -> None:
    response = world.client.post("/api/auth/login", json={"email": email, "password": password})
    assert_unauthorized(response)
    assert response.json()["detail"] == "email or password is wrong"


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer ", "Basic YWxwaGE6cHc="])
def test_bad_credentials_are_unauthorized(client: TestClient, authorization: str) -> None:
    assert_unauthorized(client.get("/api/auth/me", headers={"Authorization": authorization}))


def test_logout_ends_that_session_only(world: World) -> None:
    first = login(world.client, "fan@test.example")
    second = world.tokens["fan"]

    response = world.client.post("/api/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert response.status_code == 204

    assert_unauthorized(world.client.get("/api/auth/me", headers={"Authorization": f"Bearer {first}"}))
    assert_unauthorized(world.client.post("/api/auth/logout", headers={"Authorization": f"Bearer {first}"}))
    assert world.client.get("/api/auth/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_expired_session_is_unauthorized(world: World, db: Session) -> None:
    assert world.client.get("/api/auth/me", headers=world.headers("finance")).status_code == 200
    db.execute(update(LoginSession).where(LoginSession.user_id == world.user_ids["finance"])
               .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert_unauthorized(world.client.get("/api/auth/me", headers=world.headers("finance")))
    assert world.client.get("/api/auth/me", headers=world.headers("fan")).status_code == 200


def test_browser_session_cookie_logs_in_and_out(world: World) -> None:
    browser = TestClient(world.client.app)  # its own cookie jar
    assert_unauthorized(browser.get("/api/auth/me"))

    response = browser.post("/api/auth/login", json={"email": "alpha@test.example", "password": PASSWORD})
    set_cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}={response.json()['token']}" in set_cookie
    assert "HttpOnly" in set_cookie
    assert "samesite=strict" in set_cookie.lower()
    assert browser.get("/api/auth/me").json()["email"] == "alpha@test.example"
    assert browser.get(f"/api/albums/{world.album_ids['alpha']}").status_code == 200

    assert browser.post("/api/auth/logout").status_code == 204
    assert SESSION_COOKIE not in browser.cookies
    assert_unauthorized(browser.get("/api/auth/me"))
    # The token itself is dead, not only forgotten by the browser.
    assert_unauthorized(world.client.get("/api/auth/me",
                                         headers={"Authorization": f"Bearer {response.json()['token']}"}))


def test_bearer_token_wins_over_the_cookie(world: World) -> None:
    browser = TestClient(world.client.app)
    login(browser, "fan@test.example")
    assert browser.get("/api/auth/me", headers=world.headers("admin")).json()["role"] == "admin"
    assert browser.get("/api/auth/me").json()["role"] == "fan"


def test_fan_registration(client: TestClient) -> None:
    body = {"email": "New.Fan@Example.com", "display_name": "New Fan", "password": "ten chars!"}
    created = client.post("/api/auth/register", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "fan"
    assert created.json()["email"] == "new.fan@example.com"

    again = client.post("/api/auth/register", json={**body, "email": "new.fan@EXAMPLE.com"})
    assert again.status_code == 409
    assert again.json()["error"] == "Conflict"

    short = client.post("/api/auth/register", json={**body, "email": "other@example.com", "password": "short"})
    assert short.status_code == 422
    assert "password" in short.json()["detail"]

    token = login(client, "new.fan@example.com", "ten chars!")
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "fan"


def test_admin_creates_an_artist_account_for_an_artist(world: World) -> None:
    body = {"email": "manager@test.example", "display_name": "Manager", "password": "long password 1",
            "role": "artist", "artist_ids": [world.artist_ids["beta"]]}
    created = world.client.post("/api/auth/users", json=body, headers=world.headers("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["artist_ids"] == [world.artist_ids["beta"]]

    not_artist = world.client.post("/api/auth/users", headers=world.headers("admin"),
                                   json={**body, "email": "fin@test.example", "role": "finance"})
    assert not_artist.status_code == 400
    unknown = world.client.post("/api/auth/users", headers=world.headers("admin"),
                                json={**body, "email": "x@test.example", "artist_ids": [999_999]})
    assert unknown.status_code == 400
    assert "999999" in unknown.json()["detail"]


def test_passwords_are_stored_as_argon2id_hashes(world: World, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = db.execute(select(User.password_hash).where(User.id == world.user_ids["fan"])).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    monkeypatch.undo()  # the production work factor, not the tests' cheap one
    production = hash_password(PASSWORD)
    assert production.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(production, PASSWORD)
    assert not verify_password(production, PASSWORD + "!")
