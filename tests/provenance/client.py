"""Calling the verify endpoints from tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import World


def verify(world: World, data: bytes, name: str, who: str | None = "admin", public: bool = False,
           sidecar: bytes | None = None) -> Any:
    if who is None:
        world.client.cookies.clear()  # logging in left a session cookie on the shared test client
    files = {"file": (name, data, "application/octet-stream")}
    if sidecar is not None:
        files["sidecar"] = ("sidecar.json", sidecar, "application/json")
    return world.client.post("/api/provenance/verify" + ("/public" if public else ""), files=files,
                             headers=world.headers(who) if who else {})
