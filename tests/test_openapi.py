"""The API documents itself, and every refusal has the same shape: {"error": Kind, "detail": what to fix}."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.conftest import World

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def test_every_route_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    documented = {(method.upper(), path): op for path, ops in spec["paths"].items()
                  for method, op in ops.items() if method in HTTP_METHODS}
    routes = {(method, route.path) for route in client.app.routes  # type: ignore[attr-defined]
              if isinstance(route, APIRoute) and route.include_in_schema for method in route.methods}
    assert routes <= set(documented)
    undocumented = [f"{method} {path}" for (method, path), op in documented.items()
                    if not op.get("summary") or not op.get("description", "").strip()]
    assert undocumented == []


def test_refusals_are_declared_in_the_spec(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    upload = spec["paths"]["/api/albums/{album_id}/artwork"]["post"]["responses"]
    assert {"401", "403", "404", "413", "415", "422"} <= set(upload)
    assert upload["415"]["content"]["application/json"]["example"]["error"] == "UnsupportedMedia"


def test_interactive_docs_answer(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_malformed_json_is_a_validation_error(world: World) -> None:
    response = world.client.post("/api/artists", content=b'{"name": "Broken', headers={
        **world.headers("admin"), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "ValidationError"
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "Ok", "bio": ["not", "text"]}, "bio"),
])
def test_invalid_body_names_the_field(world: World, body: dict[str, object], field: str) -> None:
    response = world.client.post("/api/artists", json=body, headers=world.headers("admin"))
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "ValidationError"
    assert payload["detail"].startswith(f"{field}: ")


def test_invalid_path_and_query_values_name_the_parameter(world: World) -> None:
    path = world.client.get("/api/albums/first", headers=world.headers("fan")).json()
    assert (path["error"], path["detail"].split(":")[0]) == ("ValidationError", "path.album_id")
    query = world.client.get("/api/consent/check", params={"scope": "everything", "asset_ids": [1]},
                             headers=world.headers("fan")).json()
    assert (query["error"], query["detail"].split(":")[0]) == ("ValidationError", "query.scope")


def test_unknown_id_is_not_found(world: World) -> None:
    response = world.client.get("/api/tracks/424242", headers=world.headers("fan"))
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": "track 424242 does not exist"}


@pytest.mark.parametrize(("method", "path", "status", "error"), [
    ("GET", "/api/no-such-thing", 404, "NotFound"),
    ("DELETE", "/api/artists", 405, "MethodNotAllowed"),
])
def test_unknown_routes_use_the_same_error_shape(client: TestClient, method: str, path: str, status: int,
                                                 error: str) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]


HUGE = 2**40  # past PostgreSQL's INTEGER; SQLite would store it


@pytest.mark.parametrize("path", [
    f"/api/albums/{HUGE}", f"/api/tracks/{HUGE}", f"/api/assets/{HUGE}", f"/api/assets/{HUGE}/file",
    f"/api/consent/grants?album_id={HUGE}", f"/api/consent/check?scope=remix_preview&asset_ids={HUGE}",
    "/api/albums/-3",
])
def test_ids_past_the_integer_range_are_not_found_on_every_backend(world: World, path: str) -> None:
    response = world.client.get(path, headers=world.headers("admin"))
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


@pytest.mark.parametrize("path", [f"/api/albums?artist_id={HUGE}", f"/api/audit/events?after_id={HUGE}"])
def test_values_the_database_cannot_hold_are_not_a_server_error(world: World, path: str) -> None:
    response = world.client.get(path, headers=world.headers("admin"))
    assert response.status_code in {200, 400}, response.text
    if response.status_code == 400:  # PostgreSQL
        assert response.json() == {"error": "BadRequest",
                                    "detail": "a value does not fit the database: integer out of range"}
    else:
        assert response.json() == []
