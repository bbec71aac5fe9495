"""The audit log: every change is an event, events cannot be edited, and editing them anyway is detected."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from remix.audit import service as audit
from remix.audit.models import AuditEvent
from remix.audit.service import GENESIS_HASH, event_hash
from remix.db import make_engine
from tests.audit.tampering import unguarded_audit_log
from tests.catalog import samples
from tests.catalog.uploads import post_artwork, post_stem
from tests.conftest import World


def events(world: World, after_id: int = 0) -> list[dict[str, Any]]:
    response = world.client.get("/api/audit/events", params={"after_id": after_id, "limit": 1000},
                                headers=world.headers("admin"))
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()
    return found


def verify(world: World) -> dict[str, Any]:
    response = world.client.get("/api/audit/verify", headers=world.headers("admin"))
    assert response.status_code == 200
    report: dict[str, Any] = response.json()
    return report


def ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_change_writes_one_chained_event(world: World) -> None:
    c, admin, alpha = world.client, world.headers("admin"), world.headers("alpha")
    start = events(world)[-1]["id"]

    user = ok(c.post("/api/auth/users", headers=admin, json={
        "email": "manager@test.example", "display_name": "M", "password": "long password 1", "role": "artist",
        "artist_ids": [world.artist_ids["alpha"]]}))
    fan = ok(c.post("/api/auth/register", json={"email": "f2@test.example", "display_name": "F",
                                                "password": "long password 1"}))
    artist = ok(c.post("/api/artists", headers=admin, json={"name": "Gamma"}))
    album = ok(c.post(f"/api/artists/{world.artist_ids['alpha']}/albums", headers=alpha, json={"title": "B-sides"}))
    track = ok(c.post(f"/api/albums/{album['id']}/tracks", headers=alpha, json={"title": "Hum", "position": 1}))
    artwork = ok(post_artwork(world, "alpha", album["id"], samples.photo("chelsea", "JPEG"), "c.jpg"))
    stem = ok(post_stem(world, "alpha", track["id"], samples.stem("WAV"), "drums"))
    grant = ok(c.post("/api/consent/grants", headers=alpha, json={"scope": "remix_preview", "album_id": album["id"]}))
    ok(c.post(f"/api/consent/grants/{grant['id']}/revoke", headers=alpha, json={"reason": "re-mastering"}), 200)
    # Reads and refusals are not changes.
    c.get(f"/api/albums/{album['id']}", headers=alpha)
    c.post("/api/artists", headers=alpha, json={"name": "Refused"})

    written = events(world, after_id=start)
    assert [(e["action"], e["subject_type"], e["subject_id"], e["actor_user_id"]) for e in written] == [
        ("user.created", "user", str(user["id"]), world.user_ids["admin"]),
        ("user.created", "user", str(fan["id"]), None),
        ("artist.created", "artist", str(artist["id"]), world.user_ids["admin"]),
        ("album.created", "album", str(album["id"]), world.user_ids["alpha"]),
        ("track.created", "track", str(track["id"]), world.user_ids["alpha"]),
        ("asset.uploaded", "asset", str(artwork["id"]), world.user_ids["alpha"]),
        ("asset.uploaded", "asset", str(stem["id"]), world.user_ids["alpha"]),
        ("consent.granted", "consent_grant", str(grant["id"]), world.user_ids["alpha"]),
        ("consent.revoked", "consent_grant", str(grant["id"]), world.user_ids["alpha"]),
    ]
    payloads = [json.loads(e["payload"]) for e in written]
    assert payloads[0]["artist_ids"] == [world.artist_ids["alpha"]]
    assert payloads[5]["sha256"] == artwork["sha256"]
    assert payloads[7]["scope"] == "remix_preview"
    assert payloads[8]["reason"] == "re-mastering"

    everything = events(world)
    assert everything[0]["prev_hash"] == GENESIS_HASH
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(everything))
    assert verify(world) == {"events_checked": len(everything), "ok": True, "first_bad_event_id": None,
                             "problem": None}


def test_events_are_paged_in_order(world: World) -> None:
    everything = events(world)
    page = world.client.get("/api/audit/events", params={"after_id": everything[1]["id"], "limit": 2},
                            headers=world.headers("admin")).json()
    assert [e["id"] for e in page] == [e["id"] for e in everything[2:4]]
    too_many = world.client.get("/api/audit/events", params={"limit": 5000}, headers=world.headers("admin"))
    assert too_many.status_code == 422


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET payload = '{}' WHERE id = 2",
    "UPDATE audit_events SET hash = prev_hash",
    "DELETE FROM audit_events WHERE id = 2",
    "DELETE FROM audit_events",
])
def test_audit_events_cannot_be_changed_in_the_database(world: World, database_url: str, statement: str) -> None:
    before = events(world)
    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()
    assert events(world) == before
    assert verify(world)["ok"] is True


def test_edited_payload_is_reported(world: World, database_url: str) -> None:
    target = events(world)[3]
    with unguarded_audit_log(database_url) as conn:
        conn.execute(text("UPDATE audit_events SET payload = :p WHERE id = :id"),
                     {"p": '{"name":"Someone Else"}', "id": target["id"]})

    assert verify(world) == {"events_checked": 4, "ok": False, "first_bad_event_id": target["id"],
                             "problem": "content does not match its hash"}


def test_edit_with_a_recomputed_hash_breaks_the_next_link(world: World, database_url: str) -> None:
    target, following = events(world)[3:5]
    forged = AuditEvent(occurred_at=datetime.fromisoformat(target["occurred_at"]),
                        actor_user_id=target["actor_user_id"], action=target["action"],
                        subject_type=target["subject_type"], subject_id=target["subject_id"],
                        payload='{"name":"Someone Else"}')
    with unguarded_audit_log(database_url) as conn:
        conn.execute(text("UPDATE audit_events SET payload = :p, hash = :h WHERE id = :id"),
                     {"p": forged.payload, "h": event_hash(target["prev_hash"], forged), "id": target["id"]})

    assert verify(world) == {"events_checked": 5, "ok": False, "first_bad_event_id": following["id"],
                             "problem": "link to the previous event is broken"}


def test_deleted_event_is_reported_as_a_broken_link(world: World, database_url: str) -> None:
    everything = events(world)
    removed, following = everything[2], everything[3]
    with unguarded_audit_log(database_url) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": removed["id"]})

    assert verify(world) == {"events_checked": 3, "ok": False, "first_bad_event_id": following["id"],
                             "problem": "link to the previous event is broken"}


def test_deleting_the_newest_event_is_not_detectable_by_the_chain(world: World, database_url: str) -> None:
    """A chain proves what is in it, not that nothing came after: losing the tail needs an outside anchor
    (e.g. the last hash published elsewhere). Documented here so nobody believes otherwise."""
    everything = events(world)
    with unguarded_audit_log(database_url) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": everything[-1]["id"]})
    assert verify(world) == {"events_checked": len(everything) - 1, "ok": True, "first_bad_event_id": None,
                             "problem": None}


def test_an_event_joins_the_chain_only_when_its_transaction_commits(world: World) -> None:
    factory = world.client.app.state.sessionmaker  # type: ignore[attr-defined]
    before = events(world)
    with factory() as session:
        audit.record(session, "test.rolled_back", "test", 1, actor_user_id=None)
        session.flush()
        session.rollback()
    assert events(world) == before

    with factory() as session:
        recorded = audit.record(session, "test.committed", "test", 2, actor_user_id=None, note="kept")
        session.commit()
    after = events(world)
    assert [e["action"] for e in after[len(before):]] == ["test.committed"]
    assert after[-1]["prev_hash"] == before[-1]["hash"] and after[-1]["hash"] == recorded.hash
    assert verify(world)["ok"] is True


def test_concurrent_writers_extend_one_unbroken_chain(world: World) -> None:
    factory = world.client.app.state.sessionmaker  # type: ignore[attr-defined]
    before = len(events(world))

    def write(worker: int) -> None:
        for n in range(5):
            with factory() as session:
                audit.record(session, "test.concurrent", "test", f"{worker}-{n}", actor_user_id=None)
                audit.record(session, "test.concurrent", "test", f"{worker}-{n}-second", actor_user_id=None)
                session.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    everything = events(world)
    assert len(everything) == before + 40
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(everything))
    assert verify(world)["ok"] is True
