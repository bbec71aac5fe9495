"""Every route the app serves, flattened (FastAPI 0.16x nests included routers as ``_IncludedRouter``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount, WebSocketRoute


@dataclass(frozen=True)
class RouteKey:
    method: str  # "WS" for a websocket, "MOUNT" for a mounted app
    path: str


def _keys(route: BaseRoute, path: str) -> Iterator[RouteKey]:
    if isinstance(route, WebSocketRoute) or type(route).__name__ == "APIWebSocketRoute":
        yield RouteKey("WS", path)
    elif isinstance(route, Mount):
        yield RouteKey("MOUNT", path)
    else:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":  # Starlette adds HEAD to every GET
                yield RouteKey(method, path)


def all_routes(app: FastAPI) -> set[RouteKey]:
    keys: set[RouteKey] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                path = context.path or str(getattr(context.starlette_route or context.original_route, "path", ""))
                keys.update(_keys(context.original_route, path))
        else:
            keys.update(_keys(route, str(getattr(route, "path", ""))))
    assert len(keys) > 20, "the route walk found almost nothing: has FastAPI changed how routers are stored?"
    return keys
