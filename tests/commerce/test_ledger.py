"""Split sheets, prices, postings, refunds, disputes, statements, CSV, period locks and webhook safety."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from remix.commerce.allocation import allocate_shares
from remix.commerce.currency import format_minor
from remix.commerce.ledger import next_period, period_of
from remix.commerce.models import LedgerTransaction, Order, ProviderEvent
from remix.db import utcnow
from tests.commerce.conftest import (
    SPLIT,
    Shop,
    approve_split,
    deliver,
    dispute,
    event,
    new_id,
    payment_succeeded,
    refund_created,
    stripe_signature,
)


def paid_order(shop: Shop, price: int = 999, currency: str = "EUR") -> dict[str, Any]:
    shop.set_price(price, currency)
    order: dict[str, Any] = shop.order()["order"]
    r = deliver(shop.client, payment_succeeded(order["payment_intent_id"], price, currency))
    assert r.status_code == 200 and r.json()["status"] == "processed", r.text
    return order


def statement(shop: Shop, period: str | None = None) -> dict[int, dict[str, Any]]:
    r = shop.client.get("/api/finance/statements", params={"period": period or period_of(utcnow())},
                        headers=shop.h("finance"))
    assert r.status_code == 200, r.text
    return {line["payee_id"]: line for line in r.json()}


def reconciliation_ok(shop: Shop) -> None:
    report = shop.client.get("/api/finance/reconciliation", headers=shop.h("finance")).json()
    assert report["ok"], report


# --- allocation ------------------------------------------------------------------------------------


@given(st.integers(min_value=-10**12, max_value=10**12),
       st.lists(st.integers(min_value=1, max_value=9999), min_size=1, max_size=8))
def test_largest_remainder_shares_sum_exactly_and_stay_within_one_unit(amount: int, weights: list[int]) -> None:
    total = sum(weights)
    bps = [w * 10_000 // total for w in weights]
    bps[0] += 10_000 - sum(bps)
    if any(b <= 0 for b in bps):
        return
    shares = allocate_shares(amount, bps)
    assert sum(shares) == amount
    for share, bp in zip(shares, bps, strict=True):
        assert abs(share * 10_000 - amount * bp) < 10_000


# --- split sheets ----------------------------------------------------------------------------------


def test_split_sheet_must_sum_to_10000_and_be_accepted_then_approved(shop: Shop) -> None:
    c, track = shop.client, shop.track_id
    bad = c.post(f"/api/tracks/{track}/split-sheets", headers=shop.h("finance"),
                 json={"lines": [{"payee_id": shop.payee_ids["artist"], "role": "artist", "basis_points": 9000}]})
    assert bad.status_code == 400 and "sum to 10000" in bad.json()["detail"]
    r = c.post(f"/api/tracks/{track}/split-sheets", headers=shop.h("finance"),
               json={"lines": [{"payee_id": shop.payee_ids["artist"], "role": "artist", "basis_points": 10000}]})
    sheet = r.json()
    assert sheet["version"] == 2 and sheet["status"] == "proposed"
    # Finance cannot approve before the artist accepts; another artist cannot accept; fans cannot approve.
    assert c.post(f"/api/split-sheets/{sheet['id']}/approve", headers=shop.h("finance")).status_code == 409
    assert c.post(f"/api/split-sheets/{sheet['id']}/accept", headers=shop.h("beta")).status_code == 403
    assert c.post(f"/api/split-sheets/{sheet['id']}/accept", headers=shop.h("alpha")).status_code == 200
    assert c.post(f"/api/split-sheets/{sheet['id']}/approve", headers=shop.h("fan")).status_code == 403
    assert c.get(f"/api/tracks/{track}/split-sheets", headers=shop.h("beta")).status_code == 403


def test_sales_closed_until_split_approved(shop: Shop) -> None:
    beta_track = shop.world.track_ids["beta"]
    r = shop.client.put(f"/api/tracks/{beta_track}/products/full_length", headers=shop.h("finance"),
                        json={"price_minor": 500, "currency": "USD"})
    assert r.status_code == 200
    r = shop.client.post("/api/orders", headers=shop.h("fan"), json={"track_id": beta_track, "spec": {"a": 1}})
    assert r.status_code == 409 and "split sheet" in r.json()["detail"]


def test_past_sales_keep_their_split_version(shop: Shop) -> None:
    first = paid_order(shop, 1000)
    approve_split(shop.world, shop.track_id, [
        {"payee_id": shop.payee_ids["artist"], "role": "artist", "basis_points": 5000},
        {"payee_id": shop.payee_ids["platform"], "role": "platform", "basis_points": 5000},
    ])
    second = paid_order(shop, 1000)
    # Refunding the first order reverses it under version 1 (four payees), not the new 50/50 split.
    r = deliver(shop.client, refund_created(first["payment_intent_id"], 1000, "EUR"))
    assert r.json()["status"] == "processed"
    lines = statement(shop)
    assert second["split_sheet_id"] != first["split_sheet_id"]
    assert {pid: x["closing"] for pid, x in lines.items()} == {
        shop.payee_ids["artist"]: 500, shop.payee_ids["label"]: 0, shop.payee_ids["songwriter"]: 0,
        shop.payee_ids["platform"]: 500}
    reconciliation_ok(shop)


# --- currencies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("price", "currency", "decimal"), [(1001, "JPY", "1001"), (999, "EUR", "9.99"),
                                                             (1230, "KWD", "1.230")])
def test_zero_two_and_three_decimal_currencies(shop: Shop, price: int, currency: str, decimal: str) -> None:
    paid_order(shop, price, currency)
    lines = statement(shop)
    expected = allocate_shares(price, [bp for _, bp in SPLIT])
    assert [lines[shop.payee_ids[role]]["sales"] for role, _ in SPLIT] == expected
    assert sum(expected) == price and format_minor(price, currency) == decimal
    assert all(line["currency"] == currency for line in lines.values())
    csv_text = shop.client.get("/api/finance/statements.csv", params={"period": period_of(utcnow())},
                               headers=shop.h("finance")).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [r["sales"] for r in rows] == [format_minor(v, currency) for v in expected]


def test_three_decimal_price_must_end_in_zero_and_unknown_currency_refused(shop: Shop) -> None:
    r = shop.client.put(f"/api/tracks/{shop.track_id}/products/full_length", headers=shop.h("finance"),
                        json={"price_minor": 1234, "currency": "KWD"})
    assert r.status_code == 400 and "multiples of 10" in r.json()["detail"]
    r = shop.client.put(f"/api/tracks/{shop.track_id}/products/full_length", headers=shop.h("finance"),
                        json={"price_minor": 100, "currency": "XXX"})
    assert r.status_code == 400 and "not supported" in r.json()["detail"]


# --- refunds, disputes, idempotency, ordering ------------------------------------------------------


def test_partial_refunds_then_rest_return_every_share_to_zero(shop: Shop) -> None:
    order = paid_order(shop, 1001, "JPY")
    pi = order["payment_intent_id"]
    for amount in (333, 333):
        assert deliver(shop.client, refund_created(pi, amount, "JPY")).json()["status"] == "processed"
    mine = shop.client.get(f"/api/orders/{order['public_id']}", headers=shop.h("fan")).json()
    assert mine["entitlement"] == "active"  # partial refunds keep the licence
    assert deliver(shop.client, refund_created(pi, 335, "JPY")).json()["status"] == "processed"
    assert all(line["closing"] == 0 for line in statement(shop).values())
    mine = shop.client.get(f"/api/orders/{order['public_id']}", headers=shop.h("fan")).json()
    assert mine["entitlement"] == "revoked"
    over = deliver(shop.client, refund_created(pi, 1, "JPY")).json()
    assert over["status"] == "ignored" and "exceeds" in over["note"]
    reconciliation_ok(shop)


def test_dispute_opened_then_won_or_lost(shop: Shop) -> None:
    won, lost = paid_order(shop, 2000, "USD"), paid_order(shop, 2000, "USD")
    c = shop.client
    for order, outcome in ((won, "won"), (lost, "lost")):
        dp = new_id("dp")
        assert deliver(c, dispute("charge.dispute.created", dp, order["payment_intent_id"], 2000, "USD",
                                  "needs_response")).json()["status"] == "processed"
        held = c.get(f"/api/orders/{order['public_id']}", headers=shop.h("fan")).json()
        assert held["entitlement"] == "suspended"
        assert deliver(c, dispute("charge.dispute.closed", dp, order["payment_intent_id"], 2000, "USD",
                                  outcome)).json()["status"] == "processed"
    assert c.get(f"/api/orders/{won['public_id']}", headers=shop.h("fan")).json()["entitlement"] == "active"
    assert c.get(f"/api/orders/{lost['public_id']}", headers=shop.h("fan")).json()["entitlement"] == "revoked"
    lines = statement(shop)
    artist = lines[shop.payee_ids["artist"]]
    assert artist["sales"] == 2 * allocate_shares(2000, [bp for _, bp in SPLIT])[0]
    assert artist["closing"] == artist["sales"] // 2 and artist["held"] == 0
    reconciliation_ok(shop)


def test_refund_and_dispute_before_payment_are_applied_after_it(shop: Shop) -> None:
    shop.set_price(1500, "EUR")
    order = shop.order()["order"]
    pi, c = order["payment_intent_id"], shop.client
    dp = new_id("dp")
    # Reordered delivery: the dispute's close, the refund and the opening all arrive before the payment.
    assert deliver(c, dispute("charge.dispute.closed", dp, pi, 500, "EUR", "lost")).json()["status"] == "deferred"
    refund = refund_created(pi, 1000, "EUR")
    assert deliver(c, refund).json()["status"] == "deferred"
    assert deliver(c, dispute("charge.dispute.created", dp, pi, 500, "EUR", "needs_response")).json()["status"] \
        == "deferred"
    assert deliver(c, payment_succeeded(pi, 1500, "EUR")).json()["status"] == "processed"
    assert deliver(c, refund).json()["status"] == "duplicate"
    assert all(line["closing"] == 0 for line in statement(shop).values())
    with c.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        kinds = sorted(t.kind.value for t in session.query(LedgerTransaction).all())
        assert kinds == ["dispute_lost", "dispute_opened", "refund", "sale"]
        assert {e.status.value for e in session.query(ProviderEvent).all()} == {"processed"}
    reconciliation_ok(shop)


def test_duplicate_payment_events_post_one_sale(shop: Shop) -> None:
    shop.set_price(700, "EUR")
    order = shop.order()["order"]
    evt = payment_succeeded(order["payment_intent_id"], 700, "EUR")
    statuses = [deliver(shop.client, evt).json()["status"] for _ in range(3)]
    # A second event id for the same payment (e.g. checkout.session.completed) does not post again either.
    other = event("checkout.session.completed", {"id": "cs_1", "payment_intent": order["payment_intent_id"],
                                                 "payment_status": "paid", "amount_total": 700, "currency": "eur"})
    assert statuses == ["processed", "duplicate", "duplicate"]
    assert deliver(shop.client, other).json()["status"] == "processed"
    assert sum(line["sales"] for line in statement(shop).values()) == 700
    reconciliation_ok(shop)


def test_bad_webhooks_are_rejected_or_ignored_and_never_post(shop: Shop) -> None:
    c = shop.client
    shop.set_price(999, "EUR")
    order = shop.order()["order"]
    good = payment_succeeded(order["payment_intent_id"], 999, "EUR")
    assert deliver(c, good, secret="whsec_wrong").status_code == 400
    assert deliver(c, good, timestamp=int(time.time()) - 3600).status_code == 400  # stale timestamp
    assert c.post("/api/commerce/stripe/webhook", content=json.dumps(good)).status_code == 400  # unsigned
    malformed = b'{"id": "evt_1", "type": '
    r = c.post("/api/commerce/stripe/webhook", content=malformed,
               headers={"Stripe-Signature": stripe_signature(malformed)})
    assert r.status_code == 400 and r.json()["error"] == "BadRequest"
    not_utf8 = b'{"id": "evt_3", "type": "\xff"}'  # signed or not, a body that is not text is a bad request
    for signature in (stripe_signature(not_utf8), "t=1,v1=forged"):
        r = c.post("/api/commerce/stripe/webhook", content=not_utf8, headers={"Stripe-Signature": signature})
        assert r.status_code == 400 and r.json()["error"] == "BadRequest", r.text
    shapeless = json.dumps({"id": "evt_2", "type": "payment_intent.succeeded"}).encode()
    r = c.post("/api/commerce/stripe/webhook", content=shapeless,
               headers={"Stripe-Signature": stripe_signature(shapeless)})
    assert r.status_code == 400
    unknown = deliver(c, event("customer.created", {"id": "cus_1"})).json()
    assert unknown["status"] == "ignored"
    wrong_amount = deliver(c, payment_succeeded(order["payment_intent_id"], 1, "EUR")).json()
    assert wrong_amount["status"] == "ignored" and "does not match" in wrong_amount["note"]
    stranger = deliver(c, payment_succeeded("pi_not_ours", 999, "EUR")).json()
    assert stranger["status"] == "ignored"
    with c.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        assert session.query(LedgerTransaction).count() == 0
        assert session.query(Order).one().status.value == "pending"


# --- statements, locks, permissions, immutability --------------------------------------------------


def test_locked_period_never_changes_and_corrections_post_into_the_next(shop: Shop) -> None:
    order = paid_order(shop, 1000, "EUR")
    now = period_of(utcnow())
    before = shop.client.get("/api/finance/statements.csv", params={"period": now}, headers=shop.h("finance")).text
    assert shop.client.post(f"/api/finance/periods/{now}/lock", headers=shop.h("fan")).status_code == 403
    assert shop.client.post(f"/api/finance/periods/{now}/lock", headers=shop.h("finance")).status_code == 201
    assert shop.client.post(f"/api/finance/periods/{now}/lock", headers=shop.h("finance")).status_code == 409
    assert deliver(shop.client, refund_created(order["payment_intent_id"], 400, "EUR")).json()["status"] \
        == "processed"
    after = shop.client.get("/api/finance/statements.csv", params={"period": now}, headers=shop.h("finance")).text
    assert after == before
    following = statement(shop, next_period(now))
    assert sum(x["refunds"] for x in following.values()) == -400
    assert sum(x["opening"] for x in following.values()) == 1000
    assert sum(x["closing"] for x in following.values()) == 600


def test_artists_see_only_their_own_statements(shop: Shop) -> None:
    paid_order(shop, 1000, "EUR")
    period = period_of(utcnow())
    alpha = shop.client.get("/api/statements/mine", params={"period": period}, headers=shop.h("alpha")).json()
    assert [x["payee_id"] for x in alpha] == [shop.payee_ids["artist"]]
    assert shop.client.get("/api/statements/mine", params={"period": period}, headers=shop.h("beta")).json() == []
    assert shop.client.get("/api/statements/mine", params={"period": period},
                           headers=shop.h("fan")).status_code == 403
    assert shop.client.get("/api/finance/statements", params={"period": period},
                           headers=shop.h("alpha")).status_code == 403
    bad = shop.client.get("/api/finance/statements", params={"period": "2026-13"}, headers=shop.h("finance"))
    assert bad.status_code == 400


def test_ledger_rows_cannot_be_changed(shop: Shop) -> None:
    paid_order(shop, 1000, "EUR")
    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        for statement_sql in ("UPDATE ledger_entries SET amount_minor = amount_minor + 1",
                              "DELETE FROM ledger_transactions"):
            with pytest.raises((DBAPIError, IntegrityError)):
                session.execute(text(statement_sql))
            session.rollback()


def test_revoked_consent_stops_new_sales_and_downloads(shop: Shop) -> None:
    order = paid_order(shop, 1000, "EUR")
    c = shop.client
    r = c.post(f"/api/consent/grants/{shop.grant_id}/revoke", json={"reason": "label dispute"},
               headers=shop.h("alpha"))
    assert r.status_code == 200, r.text
    assert c.post(f"/api/orders/{order['public_id']}/download-url", headers=shop.h("fan")).status_code == 403
    r = c.post("/api/orders", headers=shop.h("fan"), json={"track_id": shop.track_id, "spec": shop.spec()})
    assert r.status_code == 403 and r.json()["error"] == "ConsentNotGranted"


def test_a_fan_is_offered_a_product_only_while_it_can_be_bought(shop: Shop) -> None:
    c = shop.client

    def offer() -> dict[str, Any]:
        r = c.get(f"/api/tracks/{shop.track_id}/products", headers=shop.h("fan"))
        assert r.status_code == 200, r.text
        (only,) = r.json()
        return only

    assert offer()["on_sale"] is True and offer()["not_on_sale_because"] is None
    # A new sheet proposed but not yet approved replaces nothing: the approved one still stands.
    r = c.post(f"/api/tracks/{shop.track_id}/split-sheets", headers=shop.h("finance"), json={"lines": [
        {"payee_id": shop.payee_ids["artist"], "role": "artist", "basis_points": 10_000}]})
    assert r.status_code == 201, r.text
    assert offer()["on_sale"] is True
    r = c.post(f"/api/consent/grants/{shop.grant_id}/revoke", json={"reason": "label dispute"},
               headers=shop.h("alpha"))
    assert r.status_code == 200, r.text
    revoked = offer()
    assert revoked["on_sale"] is False and "selling the long version" in revoked["not_on_sale_because"]
    assert revoked["price_minor"] == 999  # still listed with its price, for finance and the artist
    # A track with a price but no approved split sheet: listed, not on sale, and saying why.
    beta = shop.world.track_ids["beta"]
    r = c.put(f"/api/tracks/{beta}/products/full_length", headers=shop.h("finance"),
              json={"price_minor": 500, "currency": "EUR"})
    assert r.status_code == 200, r.text
    (unapproved,) = c.get(f"/api/tracks/{beta}/products", headers=shop.h("fan")).json()
    assert unapproved["on_sale"] is False and "split sheet" in unapproved["not_on_sale_because"]


def test_payment_after_consent_was_revoked_posts_the_sale_but_issues_nothing(shop: Shop) -> None:
    """The money arrived, so the sale posts; with the grant gone there is no entitlement nor licence, and
    the order is flagged for finance to refund."""
    shop.set_price(1000, "EUR")
    order = shop.order()["order"]
    r = shop.client.post(f"/api/consent/grants/{shop.grant_id}/revoke", json={"reason": "label dispute"},
                         headers=shop.h("alpha"))
    assert r.status_code == 200, r.text
    r = deliver(shop.client, payment_succeeded(order["payment_intent_id"], 1000, "EUR"))
    assert r.status_code == 200 and r.json()["status"] == "processed", r.text

    with shop.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        stored = session.query(Order).filter_by(public_id=order["public_id"]).one()
        assert stored.status.value == "paid" and stored.needs_refund and stored.paid_at is not None
        assert [t.kind.value for t in session.query(LedgerTransaction).filter_by(order_id=stored.id)] == ["sale"]
        assert session.execute(text("SELECT count(*) FROM entitlements")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM licenses")).scalar() == 0
        actions = session.execute(text("SELECT action FROM audit_events WHERE subject_id = :p"),
                                  {"p": order["public_id"]}).scalars().all()
        assert "order.paid_unfulfillable" in actions and "order.paid" not in actions
    assert shop.client.post(f"/api/orders/{order['public_id']}/download-url",
                            headers=shop.h("fan")).status_code in (403, 409)
    reconciliation_ok(shop)
