"""Who may call what: every role against every endpoint, with the exact status each gets.

The table below is the access policy. Adding an endpoint is one ``Endpoint(...)`` line; the last test
fails when a foundation route has no line. Targets belong to artist "alpha": the ``alpha`` account acts
for that artist, ``beta`` is an artist account of another artist. Unknown ids are ``999999``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from remix.auth.models import User
from remix.catalog import service as catalog
from remix.catalog.models import Scope
from tests.auth.worlds import SharedWorld, shared_world
from tests.catalog import samples
from tests.conftest import BACKENDS

ROLES = ("anonymous", "fan", "finance", "alpha", "beta", "admin")
UNKNOWN = 999_999

Request = Callable[[SharedWorld, str], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    """One row of the policy: ``expect`` lists the status for each of ROLES, in order."""

    name: str
    method: str
    path: str
    expect: str
    request: Request | None = None

    def status_for(self, role: str) -> int:
        return int(self.expect.split()[ROLES.index(role)])


def user_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"email": f"made-by-{who}@test.example", "display_name": "New", "password": "long password 1",
                     "role": "fan"}}


def fan_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"email": f"signup-{who}@test.example", "display_name": who, "password": "long password 1"}}


def artist_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"name": f"Artist added by {who}"}}


def album_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"title": f"Album by {who}", "year": 2027}}


def track_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"title": f"Track by {who}", "position": 10 + ROLES.index(who)}}


def artwork_form(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"files": {"file": ("cover.jpg", samples.photo("chelsea", "JPEG"), "image/jpeg")}}


def stem_form(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"files": {"file": ("keys.flac", samples.stem("FLAC"), "audio/flac")}, "data": {"stem_name": f"k-{who}"}}


def grant_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"scope": "train_visual", "asset_id": s.artwork_id}}


def unknown_grant_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"scope": "train_visual", "asset_id": UNKNOWN}}


def revoke_body(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"json": {"reason": f"revoked by {who}"}}


def check_params(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"params": {"scope": "remix_preview", "asset_ids": [s.artwork_id, s.stem_id]}}


def unknown_check_params(s: SharedWorld, who: str) -> dict[str, Any]:
    return {"params": {"scope": "remix_preview", "asset_ids": [s.artwork_id, UNKNOWN]}}


ADMIN_ONLY = "401 403 403 403 403 {ok}"
OWNER = "401 403 403 {ok} 403 {ok}"          # the artist's own accounts and admins
ANY_USER = "401 {ok} {ok} {ok} {ok} {ok}"   # any logged-in account
ANY_ARTIST = "401 403 403 200 200 200"     # artist accounts (each sees their own) and admins
NOT_FOUND = "401 404 404 404 404 404"      # logged in, unknown id
OWNER_NOT_FOUND = "401 403 403 404 404 404"  # artist role passes, then the id is unknown

MATRIX: list[Endpoint] = [
    Endpoint("health", "GET", "/healthz", "200 200 200 200 200 200"),
    Endpoint("auth register", "POST", "/api/auth/register", "201 201 201 201 201 201", fan_body),
    Endpoint("auth me", "GET", "/api/auth/me", ANY_USER.format(ok=200)),
    Endpoint("users create", "POST", "/api/auth/users", ADMIN_ONLY.format(ok=201), user_body),
    Endpoint("artists create", "POST", "/api/artists", ADMIN_ONLY.format(ok=201), artist_body),
    Endpoint("artists list", "GET", "/api/artists", ANY_USER.format(ok=200)),
    Endpoint("albums list", "GET", "/api/albums", ANY_USER.format(ok=200)),
    Endpoint("albums create", "POST", "/api/artists/{artist}/albums", OWNER.format(ok=201), album_body),
    Endpoint("albums create unknown", "POST", "/api/artists/{unknown}/albums", OWNER_NOT_FOUND, album_body),
    Endpoint("albums get", "GET", "/api/albums/{album}", ANY_USER.format(ok=200)),
    Endpoint("albums get unknown", "GET", "/api/albums/{unknown}", NOT_FOUND),
    Endpoint("tracks create", "POST", "/api/albums/{album}/tracks", OWNER.format(ok=201), track_body),
    Endpoint("tracks create unknown", "POST", "/api/albums/{unknown}/tracks", OWNER_NOT_FOUND, track_body),
    Endpoint("tracks get", "GET", "/api/tracks/{track}", ANY_USER.format(ok=200)),
    Endpoint("tracks get unknown", "GET", "/api/tracks/{unknown}", NOT_FOUND),
    Endpoint("artwork upload", "POST", "/api/albums/{album}/artwork", OWNER.format(ok=201), artwork_form),
    Endpoint("artwork upload unknown", "POST", "/api/albums/{unknown}/artwork", OWNER_NOT_FOUND, artwork_form),
    Endpoint("stem upload", "POST", "/api/tracks/{track}/stems", OWNER.format(ok=201), stem_form),
    Endpoint("stem upload unknown", "POST", "/api/tracks/{unknown}/stems", OWNER_NOT_FOUND, stem_form),
    Endpoint("asset get", "GET", "/api/assets/{artwork}", ANY_USER.format(ok=200)),
    Endpoint("asset get unknown", "GET", "/api/assets/{unknown}", NOT_FOUND),
    # Artwork with no live remix_preview grant, and a stem: only the artist's accounts and admins.
    Endpoint("asset file artwork", "GET", "/api/assets/{artwork}/file", OWNER.format(ok=200)),
    Endpoint("asset file stem", "GET", "/api/assets/{stem}/file", OWNER.format(ok=200)),
    Endpoint("asset file unknown", "GET", "/api/assets/{unknown}/file", NOT_FOUND),
    Endpoint("consent grant", "POST", "/api/consent/grants", OWNER.format(ok=201), grant_body),
    Endpoint("consent grant unknown", "POST", "/api/consent/grants", OWNER_NOT_FOUND, unknown_grant_body),
    Endpoint("consent revoke", "POST", "/api/consent/grants/{fresh_grant}/revoke", OWNER.format(ok=200),
             revoke_body),
    Endpoint("consent revoke unknown", "POST", "/api/consent/grants/{unknown}/revoke", OWNER_NOT_FOUND,
             revoke_body),
    Endpoint("consent list", "GET", "/api/consent/grants", ANY_ARTIST),
    Endpoint("consent list album", "GET", "/api/consent/grants?album_id={album}", OWNER.format(ok=200)),
    Endpoint("consent list unknown", "GET", "/api/consent/grants?album_id={unknown}", OWNER_NOT_FOUND),
    Endpoint("consent check", "GET", "/api/consent/check", ANY_USER.format(ok=200), check_params),
    Endpoint("consent check unknown", "GET", "/api/consent/check", NOT_FOUND, unknown_check_params),
    Endpoint("audit events", "GET", "/api/audit/events", ADMIN_ONLY.format(ok=200)),
    Endpoint("audit verify", "GET", "/api/audit/verify", ADMIN_ONLY.format(ok=200)),
]

@pytest.fixture(scope="module", params=BACKENDS)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           sqlite_template: Path) -> Iterator[SharedWorld]:
    yield from shared_world(request, tmp_path_factory, sqlite_template)


def fresh_grant(s: SharedWorld) -> int:
    """A live grant on alpha's stem, so every role's revoke finds one not yet revoked."""
    factory = s.world.client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory.begin() as session:
        admin = session.get(User, s.world.user_ids["admin"])
        assert admin is not None
        grant = catalog.grant_consent(session, admin, Scope.sell_extended, asset_id=s.stem_id, album_id=None,
                                      expires_at=None, terms="")
        return grant.id


def url_for(endpoint: Endpoint, s: SharedWorld) -> str:
    w = s.world
    ids: dict[str, object] = {"artist": w.artist_ids["alpha"], "album": w.album_ids["alpha"],
                              "track": w.track_ids["alpha"], "artwork": s.artwork_id, "stem": s.stem_id,
                              "unknown": UNKNOWN}
    if "{fresh_grant}" in endpoint.path:
        ids["fresh_grant"] = fresh_grant(s)
    return endpoint.path.format(**ids)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", MATRIX, ids=lambda e: e.name.replace(" ", "-"))
def test_access(shared: SharedWorld, endpoint: Endpoint, role: str) -> None:
    headers = {} if role == "anonymous" else shared.world.headers(role)
    extra = endpoint.request(shared, role) if endpoint.request else {}
    response = shared.world.client.request(endpoint.method, url_for(endpoint, shared), headers=headers, **extra)

    expected = endpoint.status_for(role)
    assert response.status_code == expected, f"{role} {endpoint.method} {endpoint.path}: {response.text}"
    if expected == 401:
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "Unauthorized"
    elif expected == 403:
        assert response.json()["error"] in {"Forbidden", "ConsentNotGranted"}
    elif expected == 404:
        assert response.json()["error"] == "NotFound"


def test_artists_see_only_their_own_grants(shared: SharedWorld) -> None:
    fresh_grant(shared)
    w = shared.world
    assert {g["artist_id"] for g in w.client.get("/api/consent/grants", headers=w.headers("alpha")).json()} \
        == {w.artist_ids["alpha"]}
    assert w.client.get("/api/consent/grants", headers=w.headers("beta")).json() == []
    assert len(w.client.get("/api/consent/grants", headers=w.headers("admin")).json()) >= 1


# Whether every route the app serves has an access rule (this table only samples the foundation routes)
# is checked over all routes and roles by tests/security/test_route_policy.py.
