"""The consent check every feature relies on: what a grant covers, for how long, and its revocation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from remix.catalog.consent import ConsentDecision, check_use, require_use
from remix.catalog.models import ConsentGrant, ConsentRevocation, Scope
from remix.db import make_engine, utcnow
from remix.errors import ConsentNotGranted, NotFound
from tests.catalog import samples
from tests.catalog.uploads import post_artwork, post_stem
from tests.conftest import World

UNKNOWN_ID = 999_999


def artwork(world: World, who: str = "alpha", name: str = "chelsea") -> int:
    response = post_artwork(world, who, world.album_ids[who], samples.photo(name, "JPEG"), f"{name}.jpg")
    assert response.status_code == 201, response.text
    asset_id: int = response.json()["id"]
    return asset_id


def stem(world: World, who: str = "alpha", name: str = "drums") -> int:
    response = post_stem(world, who, world.track_ids[who], samples.stem("WAV"), name)
    assert response.status_code == 201, response.text
    asset_id: int = response.json()["id"]
    return asset_id


def grant(world: World, scope: Scope, *, who: str = "alpha", asset_id: int | None = None,
          album_id: int | None = None, expires_at: datetime | None = None) -> dict[str, object]:
    body: dict[str, object] = {"scope": scope.value, "asset_id": asset_id, "album_id": album_id}
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat()
    response = world.client.post("/api/consent/grants", json=body, headers=world.headers(who))
    assert response.status_code == 201, response.text
    granted: dict[str, object] = response.json()
    return granted


def new_session(world: World) -> Session:
    """A session of the app's own, as a feature opens one after the grant was committed."""
    session: Session = world.client.app.state.sessionmaker()  # type: ignore[attr-defined]
    return session


def decide(world: World, scope: Scope, asset_ids: list[int], at: datetime | None = None) -> ConsentDecision:
    with new_session(world) as session:
        return check_use(session, scope, asset_ids, at=at)


def api_check(world: World, scope: Scope, asset_ids: list[int], at: datetime | None = None,
              who: str = "fan") -> dict[str, object]:
    params: dict[str, object] = {"scope": scope.value, "asset_ids": asset_ids}
    if at is not None:
        params["at"] = at.isoformat()
    response = world.client.get("/api/consent/check", params=params, headers=world.headers(who))
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_album_grant_covers_every_asset_of_that_album_and_no_other(world: World) -> None:
    cover, back, drums = artwork(world), artwork(world, name="coffee"), stem(world)
    other_artists_cover = artwork(world, "beta")
    album_grant = grant(world, Scope.remix_preview, album_id=world.album_ids["alpha"])
    uploaded_later = stem(world, name="bass")

    decision = decide(world, Scope.remix_preview, [cover, back, drums, uploaded_later])
    assert decision.allowed
    assert decision.grant_for_asset == dict.fromkeys([cover, back, drums, uploaded_later], album_grant["id"])
    assert decision.grant_ids == [album_grant["id"]]

    mixed = decide(world, Scope.remix_preview, [cover, other_artists_cover])
    assert not mixed.allowed
    assert mixed.uncovered == (other_artists_cover,)
    answer = api_check(world, Scope.remix_preview, [cover, other_artists_cover])
    assert answer["allowed"] is False
    assert answer["uncovered"] == [other_artists_cover]
    assert answer["grant_for_asset"] == {str(cover): album_grant["id"]}


def test_asset_grant_covers_only_that_asset(world: World) -> None:
    cover, back = artwork(world), artwork(world, name="coffee")
    cover_grant = grant(world, Scope.train_visual, asset_id=cover)

    assert decide(world, Scope.train_visual, [cover]).grant_for_asset == {cover: cover_grant["id"]}
    assert decide(world, Scope.train_visual, [back]).uncovered == (back,)
    with new_session(world) as session, pytest.raises(ConsentNotGranted) as refused:
        require_use(session, Scope.train_visual, [cover, back])
    # Said in words a fan understands (the artwork's title), with the id kept in the facts for support.
    assert refused.value.detail == "the artist has not allowed training visuals on the artwork “coffee”"
    assert str(back) not in refused.value.detail
    assert refused.value.facts == {"scope": "train_visual", "asset_ids": [back]}


def test_grant_of_one_scope_does_not_allow_another(world: World) -> None:
    cover = artwork(world)
    grant(world, Scope.remix_preview, album_id=world.album_ids["alpha"])

    assert decide(world, Scope.remix_preview, [cover]).allowed
    for other in (Scope.download_clip, Scope.sell_extended, Scope.train_visual):
        assert decide(world, other, [cover]).uncovered == (cover,)
    assert api_check(world, Scope.download_clip, [cover])["allowed"] is False


def test_grant_is_live_from_granted_at_until_expires_at(world: World) -> None:
    cover = artwork(world)
    expires_at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    expiring = grant(world, Scope.download_clip, asset_id=cover, expires_at=expires_at)
    granted_at = datetime.fromisoformat(str(expiring["granted_at"]))
    assert datetime.fromisoformat(str(expiring["expires_at"])) == expires_at

    second = timedelta(seconds=1)
    assert decide(world, Scope.download_clip, [cover]).allowed
    assert decide(world, Scope.download_clip, [cover], at=expires_at - second).allowed
    assert not decide(world, Scope.download_clip, [cover], at=expires_at).allowed
    assert not decide(world, Scope.download_clip, [cover], at=expires_at + second).allowed
    assert not decide(world, Scope.download_clip, [cover], at=granted_at - second).allowed
    assert api_check(world, Scope.download_clip, [cover], at=expires_at - second)["allowed"] is True
    assert api_check(world, Scope.download_clip, [cover], at=expires_at + second)["allowed"] is False


def test_revocation_takes_effect_at_once_and_is_a_new_fact(world: World, db: Session) -> None:
    cover = artwork(world)
    granted = grant(world, Scope.remix_preview, album_id=world.album_ids["alpha"])
    grant_row_before = db.execute(text("SELECT * FROM consent_grants WHERE id = :id"), {"id": granted["id"]}).one()
    db.rollback()
    assert api_check(world, Scope.remix_preview, [cover])["allowed"] is True

    response = world.client.post(f"/api/consent/grants/{granted['id']}/revoke", json={"reason": "tour cancelled"},
                                 headers=world.headers("alpha"))
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert revoked["live"] is False
    assert revoked["revocation_reason"] == "tour cancelled"
    assert revoked["revoked_by"] == world.user_ids["alpha"]

    assert api_check(world, Scope.remix_preview, [cover])["allowed"] is False
    assert not decide(world, Scope.remix_preview, [cover]).allowed
    # Before the revocation the grant did cover the asset: history is kept, not rewritten.
    revoked_at = datetime.fromisoformat(revoked["revoked_at"])
    assert decide(world, Scope.remix_preview, [cover], at=revoked_at - timedelta(microseconds=1)).allowed

    assert db.execute(text("SELECT * FROM consent_grants WHERE id = :id"), {"id": granted["id"]}).one() \
        == grant_row_before
    revocations = db.execute(select(ConsentRevocation)).scalars().all()
    assert [(r.grant_id, r.revoked_by, r.reason) for r in revocations] == \
        [(granted["id"], world.user_ids["alpha"], "tour cancelled")]

    again = world.client.post(f"/api/consent/grants/{granted['id']}/revoke", json={},
                              headers=world.headers("alpha"))
    assert again.status_code == 409
    assert again.json()["error"] == "Conflict"


def test_revoked_cover_art_is_no_longer_served_to_fans(world: World) -> None:
    cover = artwork(world)
    fan = world.headers("fan")
    assert world.client.get(f"/api/assets/{cover}/file", headers=fan).json()["error"] == "ConsentNotGranted"

    granted = grant(world, Scope.remix_preview, asset_id=cover)
    served = world.client.get(f"/api/assets/{cover}/file", headers=fan)
    assert served.status_code == 200
    assert served.content == samples.photo("chelsea", "JPEG")

    world.client.post(f"/api/consent/grants/{granted['id']}/revoke", json={}, headers=world.headers("alpha"))
    refused = world.client.get(f"/api/assets/{cover}/file", headers=fan)
    assert refused.status_code == 403
    assert refused.json()["error"] == "ConsentNotGranted"


def test_newest_live_grant_is_cited_for_each_asset(world: World) -> None:
    cover, back = artwork(world), artwork(world, name="coffee")
    album_grant = grant(world, Scope.sell_extended, album_id=world.album_ids["alpha"])
    cover_grant = grant(world, Scope.sell_extended, asset_id=cover)

    decision = decide(world, Scope.sell_extended, [cover, back])
    assert decision.grant_for_asset == {cover: cover_grant["id"], back: album_grant["id"]}
    assert decision.grant_ids == sorted([cover_grant["id"], album_grant["id"]])

    world.client.post(f"/api/consent/grants/{cover_grant['id']}/revoke", json={}, headers=world.headers("alpha"))
    assert decide(world, Scope.sell_extended, [cover, back]).grant_ids == [album_grant["id"]]


def test_unknown_asset_is_not_found(world: World) -> None:
    cover = artwork(world)
    response = world.client.get("/api/consent/check", params={"scope": "remix_preview",
                                                               "asset_ids": [cover, UNKNOWN_ID]},
                                headers=world.headers("fan"))
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"
    assert str(UNKNOWN_ID) in response.json()["detail"]
    with new_session(world) as session, pytest.raises(NotFound):
        check_use(session, Scope.remix_preview, [UNKNOWN_ID])


def test_check_of_no_assets_is_refused_by_the_api(world: World) -> None:
    response = world.client.get("/api/consent/check", params={"scope": "remix_preview"},
                                headers=world.headers("fan"))
    assert response.status_code == 422
    assert "asset_ids" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"scope": "remix_preview"}, 422, "asset_id or album_id"),
        ({"scope": "remix_preview", "asset_id": 1, "album_id": 1}, 422, "asset_id or album_id"),
        ({"scope": "remix_everything", "album_id": 1}, 422, "scope"),
        ({"scope": "remix_preview", "album_id": 1, "expires_at": "2030-01-01T00:00:00"}, 422, "timezone"),
        ({"scope": "remix_preview", "album_id": 1, "expires_at": "2001-01-01T00:00:00Z"}, 400, "past"),
    ],
    ids=["no-target", "two-targets", "unknown-scope", "naive-expiry", "past-expiry"],
)
def test_malformed_grants_are_refused(world: World, body: dict[str, object], status: int, names: str) -> None:
    body = {**body, **({"album_id": world.album_ids["alpha"]} if "album_id" in body else {})}
    response = world.client.post("/api/consent/grants", json=body, headers=world.headers("alpha"))
    assert response.status_code == status, response.text
    assert names in response.json()["detail"]


def test_check_at_a_naive_time_is_refused(world: World) -> None:
    cover = artwork(world)
    response = world.client.get("/api/consent/check", headers=world.headers("fan"), params={
        "scope": "remix_preview", "asset_ids": [cover], "at": "2030-01-01T00:00:00"})
    assert response.status_code == 400
    assert "timezone" in response.json()["detail"]


@pytest.mark.parametrize("table", ["consent_grants", "consent_revocations"])
@pytest.mark.parametrize("statement", [
    "UPDATE {table} SET id = id",
    "DELETE FROM {table}",
])
def test_grants_and_revocations_cannot_be_changed_in_the_database(
    world: World, database_url: str, table: str, statement: str
) -> None:
    granted = grant(world, Scope.remix_preview, album_id=world.album_ids["alpha"])
    world.client.post(f"/api/consent/grants/{granted['id']}/revoke", json={}, headers=world.headers("alpha"))

    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement.format(table=table)))
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1
    finally:
        engine.dispose()


def test_orm_cannot_edit_a_grant(world: World, db: Session) -> None:
    granted = grant(world, Scope.remix_preview, album_id=world.album_ids["alpha"])
    row = db.get(ConsentGrant, granted["id"])
    assert row is not None
    row.scope = Scope.sell_extended
    with pytest.raises(DBAPIError, match="append-only"):
        db.flush()
    db.rollback()
    assert db.get(ConsentGrant, granted["id"]).scope == Scope.remix_preview  # type: ignore[union-attr]


def test_a_long_lived_session_sees_a_revocation_at_once(world: World) -> None:
    """A worker that keeps one session (and its identity map) must not go on trusting a grant it loaded."""
    cover = artwork(world)
    granted = grant(world, Scope.remix_preview, asset_id=cover)
    with new_session(world) as worker:
        assert check_use(worker, Scope.remix_preview, [cover]).allowed
        held = worker.get(ConsentGrant, granted["id"])  # e.g. a job that shows the grant it relies on
        assert held is not None and held.revocation is None
        worker.commit()  # end the read transaction; loaded objects stay in the identity map

        world.client.post(f"/api/consent/grants/{granted['id']}/revoke", json={}, headers=world.headers("alpha"))

        assert check_use(worker, Scope.remix_preview, [cover]).uncovered == (cover,)
