"""The access policy of EVERY route the app serves, for every role and for anonymous callers.

``POLICY`` declares, per route, what each caller gets: ``401`` (must log in), ``403`` (a ``Forbidden`` or
``ConsentNotGranted`` refusal: wrong role, another artist's object) or ``ok`` (let through: any answer
below 500 that is neither of those — a 422 for the empty body we send or a 404 for an unknown id proves
the gate opened). A route the table does not name fails :func:`test_every_route_has_a_policy`, so a new
endpoint cannot ship unguarded by accident.

Path ids are artist "alpha"'s (``alpha`` acts for it, ``beta`` for another artist); ids of things the
world does not hold are unknown (``999999``), which is enough to see the role gate. Ownership of those
objects is covered per domain (tests/auth/test_authorization.py for the catalog, tests/commerce/…).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.auth.worlds import SharedWorld, shared_world
from tests.conftest import PASSWORD, login
from tests.security.routes import all_routes

ROLES = ("anonymous", "fan", "finance", "alpha", "beta", "admin")

PUBLIC = "ok ok ok ok ok ok"
LOGIN = "401 ok ok ok ok ok"
ARTIST = "401 403 403 ok ok ok"        # the artist role gate, on an object whose owner is checked later
OWNER = "401 403 403 ok 403 ok"        # alpha's own object: only alpha's accounts and admins
FINANCE = "401 403 ok 403 403 ok"
FINANCE_OR_OWNER = "401 403 ok ok 403 ok"
ADMIN = "401 403 403 403 403 ok"

POLICY: dict[tuple[str, str], str] = {
    # ops and documentation: open to everyone (load balancers and Prometheus do not log in)
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("MOUNT", "/app"): PUBLIC,
    # accounts
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/register"): PUBLIC,
    ("POST", "/api/auth/logout"): LOGIN,
    ("GET", "/api/auth/me"): LOGIN,
    ("POST", "/api/auth/users"): ADMIN,
    # catalog and consent
    ("GET", "/api/artists"): LOGIN,
    ("POST", "/api/artists"): ADMIN,
    ("GET", "/api/albums"): LOGIN,
    ("POST", "/api/artists/{artist_id}/albums"): ARTIST,  # owner: tests/auth/test_authorization.py
    ("GET", "/api/albums/{album_id}"): LOGIN,
    ("POST", "/api/albums/{album_id}/tracks"): ARTIST,  # owner: tests/auth/test_authorization.py
    ("GET", "/api/tracks/{track_id}"): LOGIN,
    ("POST", "/api/albums/{album_id}/artwork"): ARTIST,  # owner: tests/auth/test_authorization.py
    ("POST", "/api/tracks/{track_id}/stems"): ARTIST,  # owner: tests/auth/test_authorization.py
    ("GET", "/api/assets/{asset_id}"): LOGIN,
    ("GET", "/api/assets/{asset_id}/file"): OWNER,
    ("POST", "/api/consent/grants"): ARTIST,
    ("POST", "/api/consent/grants/{grant_id}/revoke"): ARTIST,
    ("GET", "/api/consent/grants"): ARTIST,
    ("GET", "/api/consent/check"): LOGIN,
    ("GET", "/api/consent/grants/{grant_id}/uses"): LOGIN,
    ("GET", "/api/audit/events"): ADMIN,
    ("GET", "/api/audit/verify"): ADMIN,
    # audio and live
    ("GET", "/api/tracks/{track_id}/stems"): LOGIN,
    ("POST", "/api/tracks/{track_id}/preview"): LOGIN,
    ("POST", "/api/tracks/{track_id}/clip"): LOGIN,
    ("GET", "/api/live/snapshots"): LOGIN,
    ("GET", "/api/live/snapshots/{snapshot_id}"): LOGIN,
    ("WS", "/api/tracks/{track_id}/live"): LOGIN,
    # visual models
    ("POST", "/api/albums/{album_id}/visual-models"): ARTIST,
    ("GET", "/api/visual-models"): LOGIN,
    ("GET", "/api/visual-models/{model_id}"): LOGIN,
    ("GET", "/api/visual-models/{model_id}/samples.png"): LOGIN,
    ("GET", "/api/visual-models/{model_id}/manifest"): LOGIN,
    ("POST", "/api/visual-models/{model_id}/approve"): ARTIST,
    ("POST", "/api/visual-models/{model_id}/reject"): ARTIST,
    ("POST", "/api/visual-models/{model_id}/render"): LOGIN,
    ("POST", "/api/visual-models/{model_id}/download"): LOGIN,
    ("GET", "/api/artists/{artist_id}/prompt-rules"): OWNER,
    ("PUT", "/api/artists/{artist_id}/prompt-rules"): ARTIST,  # the empty body is refused before ownership
    # commerce: split sheets, products, orders, downloads, the webhook, finance
    ("POST", "/api/tracks/{track_id}/split-sheets"): LOGIN,
    ("GET", "/api/tracks/{track_id}/split-sheets"): FINANCE_OR_OWNER,
    ("POST", "/api/split-sheets/{sheet_id}/accept"): ARTIST,
    ("POST", "/api/split-sheets/{sheet_id}/approve"): FINANCE,
    ("POST", "/api/split-sheets/{sheet_id}/reject"): LOGIN,
    ("PUT", "/api/tracks/{track_id}/products/{product}"): LOGIN,
    ("GET", "/api/tracks/{track_id}/products"): LOGIN,
    ("GET", "/api/commerce/payment-config"): LOGIN,
    ("POST", "/api/orders"): LOGIN,
    ("GET", "/api/orders"): LOGIN,
    ("GET", "/api/orders/{public_id}"): LOGIN,
    ("POST", "/api/orders/{public_id}/download-url"): LOGIN,
    ("GET", "/api/downloads/{public_id}"): PUBLIC,  # the signed URL is the credential (a browser follows it)
    ("POST", "/api/commerce/stripe/webhook"): PUBLIC,  # Stripe's signature is the credential
    ("GET", "/api/statements/mine"): ARTIST,
    ("GET", "/api/statements/mine.csv"): ARTIST,
    ("POST", "/api/finance/payees"): FINANCE,
    ("GET", "/api/finance/payees"): FINANCE,
    ("POST", "/api/finance/orders/{public_id}/refund"): FINANCE,
    ("GET", "/api/finance/statements"): FINANCE,
    ("GET", "/api/finance/statements.csv"): FINANCE,
    ("POST", "/api/finance/periods/{period}/lock"): FINANCE,
    ("GET", "/api/finance/reconciliation"): FINANCE,
    ("GET", "/api/finance/revenue"): FINANCE,
    ("GET", "/api/finance/split-sheets"): FINANCE,
    ("GET", "/api/finance/orders"): FINANCE,
    # provenance
    ("POST", "/api/provenance/verify"): ADMIN,
    ("POST", "/api/provenance/verify/public"): PUBLIC,
    ("POST", "/api/provenance/catalog-fingerprints"): ADMIN,
    ("GET", "/api/provenance/renders/{render_id}/sidecar"): LOGIN,
}

# A 403 with one of these is the gate refusing (a role, another artist's object, or no consent to see it).
REFUSALS = {"Forbidden", "ConsentNotGranted"}
UNKNOWN = 999_999
# Values that reach a route's handler with something it expects (unknown ids: the gate is what is tested).
UNKNOWN_PARAMS = {"grant_id": UNKNOWN, "model_id": UNKNOWN, "sheet_id": UNKNOWN, "snapshot_id": UNKNOWN,
                  "public_id": "ord_unknown", "render_id": "rnd_unknown", "product": "extended", "period": "2020-01"}


@pytest.fixture(scope="module", params=["sqlite"])  # the gates do not depend on the database
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           sqlite_template: Path) -> Iterator[SharedWorld]:
    yield from shared_world(request, tmp_path_factory, sqlite_template)


def concrete(path: str, s: SharedWorld) -> str:
    w = s.world
    values = {"artist_id": w.artist_ids["alpha"], "album_id": w.album_ids["alpha"], "track_id": w.track_ids["alpha"],
              "asset_id": s.artwork_id, **UNKNOWN_PARAMS}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), path)


def headers_for(s: SharedWorld, role: str, key: tuple[str, str]) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if key == ("POST", "/api/auth/logout"):  # logging out must not end the session the other rows use
        return {"Authorization": f"Bearer {login(s.world.client, f'{role}@test.example', PASSWORD)}"}
    return s.world.headers(role)


def test_every_route_has_a_policy(shared: SharedWorld) -> None:
    served = {(k.method, k.path) for k in all_routes(shared.world.client.app)}  # type: ignore[arg-type]
    assert served - POLICY.keys() == set(), "routes without an access policy: add them to POLICY"
    assert POLICY.keys() - served == set(), "POLICY names routes the app no longer serves"


@pytest.mark.parametrize("key", [k for k in POLICY if k[0] not in ("WS", "MOUNT")], ids="{0[0]} {0[1]}".format)
def test_http_route_gate(shared: SharedWorld, key: tuple[str, str]) -> None:
    method, path = key
    url = concrete(path, shared)
    seen = []
    for role, expected in zip(ROLES, POLICY[key].split(), strict=True):
        client = shared.world.client
        response = client.request(method, url, headers=headers_for(shared, role, key), follow_redirects=False)
        client.cookies.clear()
        status = response.status_code
        body = response.json() if response.headers.get("content-type") == "application/json" and response.content \
            else None
        error = body.get("error") if isinstance(body, dict) else None
        got = "401" if status == 401 else "403" if status == 403 and error in REFUSALS else \
            "5xx" if status >= 500 else "ok"
        seen.append(f"{role}={status}{'' if got == expected else ' (expected ' + expected + ')'}")
        if expected == "401" and got == "401":
            assert response.headers["www-authenticate"] == "Bearer"
    assert all("expected" not in s for s in seen), f"{method} {path}: " + ", ".join(seen)


def test_static_app_is_public(shared: SharedWorld) -> None:
    assert shared.world.client.get("/app/").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_live_websocket_gate(shared: SharedWorld, role: str) -> None:
    """Anonymous fans get a typed Unauthorized for anything but ``auth``; any login gets past the gate."""
    url = concrete("/api/tracks/{track_id}/live", shared)
    client = shared.world.client
    with client.websocket_connect(url, headers=headers_for(shared, role, ("WS", url))) as ws:
        if role == "anonymous":
            ws.send_json({"type": "ping", "id": "p1"})
            reply = ws.receive_json()
            assert reply["error"] == "Unauthorized"
            return
        try:
            first = ws.receive_json()
        except WebSocketDisconnect:  # pragma: no cover - the server always says why first
            pytest.fail("the live socket closed without a message")
        assert first.get("error") != "Unauthorized", first
        assert first["type"] in {"state", "error"}
