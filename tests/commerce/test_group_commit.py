"""Concurrent webhook deliveries share one transaction (group commit) and still post exactly once each."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from remix.catalog.consent import check_use_of_tracks
from remix.catalog.models import Scope
from remix.commerce import group_commit, webhooks
from remix.commerce.allocation import allocate_shares
from remix.commerce.models import Entitlement, LedgerTransaction, License, ProviderEvent
from tests.commerce.conftest import SPLIT, Shop, deliver, event, payment_succeeded, refund_created, wav_bytes
from tests.commerce.test_ledger import reconciliation_ok, statement


def deliver_together(shop: Shop, monkeypatch: pytest.MonkeyPatch,
                     events: list[dict[str, Any]]) -> tuple[list[httpx.Response], list[int]]:
    """Deliver ``events`` from concurrent requests; the first transaction waits until every other delivery
    is queued, so the rest are posted as ONE batch. Returns the responses and the batch sizes."""
    batcher = group_commit.batcher_for(shop.client.app.state)  # type: ignore[attr-defined]
    real = webhooks.receive_batch
    sizes: list[int] = []

    def receive_batch(session: Any, settings: Any, batch: list[dict[str, Any]], **kw: Any) -> Any:
        if not sizes:  # the first leader: let the others pile up behind it
            for _ in range(1000):
                if batcher.queued() >= len(events) - 1:
                    break
                threading.Event().wait(0.01)
        sizes.append(len(batch))
        return real(session, settings, batch, **kw)

    monkeypatch.setattr(group_commit.webhooks, "receive_batch", receive_batch)
    send: Callable[[dict[str, Any]], httpx.Response] = lambda evt: deliver(shop.client, evt)  # noqa: E731
    with ThreadPoolExecutor(len(events)) as pool:
        responses = list(pool.map(send, events))
    return responses, sizes


def sales_and_refunds(shop: Shop) -> list[tuple[str, int]]:
    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        rows = session.execute(select(LedgerTransaction.kind, LedgerTransaction.order_id)).all()
        return sorted((row.kind.value, row.order_id) for row in rows)


def test_concurrent_deliveries_post_each_payment_once_and_balances_match(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    shop.set_price(1001, "EUR")
    orders = [shop.order()["order"] for _ in range(5)]
    pis = [o["payment_intent_id"] for o in orders]
    payments = [payment_succeeded(pi, 1001, "EUR") for pi in pis]
    # One order reported twice by different events (its checkout session too), one event delivered twice,
    # and a partial refund of another order arriving in the same burst as that order's payment.
    checkout = event("checkout.session.completed", {"id": "cs_9", "payment_intent": pis[1], "payment_status": "paid",
                                                    "amount_total": 1001, "currency": "eur"})
    refund = refund_created(pis[2], 300, "EUR")
    burst = [refund, *payments, payments[0], checkout]
    responses, sizes = deliver_together(shop, monkeypatch, burst)

    assert max(sizes) > 1, sizes  # the deliveries really shared a transaction
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    statuses = [r.json()["status"] for r in responses]
    assert sorted(statuses[1:7:5]) == ["duplicate", "processed"]  # the same event twice: posted once
    assert statuses[2:6] == ["processed"] * 4 and statuses[7] == "processed"
    assert statuses[0] in ("processed", "deferred")  # the refund may have come before its payment
    # Exactly one sale per order and one refund, whatever the batch they fell into.
    ids = sorted({kind_and_order[1] for kind_and_order in sales_and_refunds(shop)})
    assert sales_and_refunds(shop) == sorted([("sale", i) for i in ids] + [("refund", ids[2])])
    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count()).select_from(Entitlement)) == 5
        assert session.scalar(select(func.count()).select_from(License)) == 5
    # Each payee holds its share of five sales less its share of the refund.
    sale_shares = allocate_shares(1001, [bp for _, bp in SPLIT])
    refund_shares = allocate_shares(300, [bp for _, bp in SPLIT])
    lines = statement(shop)
    for index, (role, _) in enumerate(SPLIT):
        assert lines[shop.payee_ids[role]]["closing"] == 5 * sale_shares[index] - refund_shares[index]
    reconciliation_ok(shop)


def test_a_bad_event_in_a_batch_gets_its_error_and_the_others_post(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    shop.set_price(999, "EUR")
    orders = [shop.order()["order"] for _ in range(4)]
    payments = [payment_succeeded(o["payment_intent_id"], 999, "EUR") for o in orders]
    # Signed and well formed, but its timestamp does not fit the database: storing it fails.
    bad = refund_created(orders[0]["payment_intent_id"], 100, "EUR")
    bad["created"] = 2**70
    responses, sizes = deliver_together(shop, monkeypatch, [*payments, bad])

    assert max(sizes) > 1, sizes
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 400], [r.text for r in responses]
    assert [r.json()["status"] for r in responses[:4]] == ["processed"] * 4
    assert responses[4].json()["error"] == "BadRequest"
    assert [kind for kind, _ in sales_and_refunds(shop)] == ["sale"] * 4
    for payment in payments:  # posted and committed: a redelivery changes nothing
        assert deliver(shop.client, payment).json()["status"] == "duplicate"
    reconciliation_ok(shop)


def test_an_event_id_too_long_to_store_is_refused_not_answered_duplicate(shop: Shop) -> None:
    """PostgreSQL holds at most 255 characters of an event id. An event with a longer one must get a 400
    (Stripe shows the failed delivery) with nothing stored — never a 200 ``duplicate`` for an event that
    was not applied, nor a truncated id that a different event would then collide with. SQLite does not
    enforce the length, so there the event is simply posted."""
    order = shop.order()["order"]
    payment = payment_succeeded(order["payment_intent_id"], 999, "EUR")
    payment["id"] = "evt_" + "x" * 300
    response = deliver(shop.client, payment)

    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        stored = session.scalar(select(func.count()).select_from(ProviderEvent))
    if shop.client.app.state.settings.database_url.startswith("postgresql"):  # type: ignore[attr-defined]
        assert response.status_code == 400, response.text
        assert stored == 0 and sales_and_refunds(shop) == []
    else:
        assert response.status_code == 200 and response.json()["status"] == "processed", response.text
        assert stored == 1 and [kind for kind, _ in sales_and_refunds(shop)] == ["sale"]


def test_consent_of_several_tracks_is_decided_for_each_track(shop: Shop) -> None:
    """The batch's one consent query (check_use_of_tracks) must not let one track's grant cover another's
    stems: alpha's album grant covers alpha's stems only; beta's stems, without a grant, stay uncovered; a
    track without stems is covered by nothing (its paid order would need a refund)."""
    beta = shop.world.track_ids["beta"]
    r = shop.client.post(f"/api/tracks/{beta}/stems", headers=shop.h("beta"), data={"stem_name": "keys"},
                         files={"file": ("keys.wav", wav_bytes(220.0), "audio/wav")})
    assert r.status_code == 201, r.text
    beta_stem = r.json()["id"]
    missing_track = 2**31 - 1
    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        decisions = check_use_of_tracks(session, Scope.sell_extended, [beta, shop.track_id, missing_track])

    alpha = decisions[shop.track_id]
    assert alpha.allowed and len(alpha.grant_for_asset) == 2 and alpha.grant_ids == [shop.grant_id]
    assert not decisions[beta].allowed and decisions[beta].uncovered == (beta_stem,)
    assert decisions[beta].grant_for_asset == {}
    assert decisions[missing_track].grant_for_asset == {} and decisions[missing_track].uncovered == ()


def test_an_event_time_out_of_range_falls_back_to_the_time_of_receipt() -> None:
    # A signed event whose `created` is in milliseconds (or garbage) must not answer 500 on every retry.
    from datetime import UTC, datetime, timedelta

    from remix.commerce.webhooks import _when

    for created in (10**15, 2**62):
        assert abs(_when({"created": created}) - datetime.now(UTC)) < timedelta(minutes=1)
    assert _when({"created": 1_700_000_000}) == datetime.fromtimestamp(1_700_000_000, UTC)
