"""The read-only reports behind the finance dashboard and the artist console agree with the ledger."""

from __future__ import annotations

from tests.commerce.conftest import SPLIT, Shop, deliver, payment_succeeded, refund_created


def test_revenue_orders_and_grant_sales_follow_webhook_postings(shop: Shop) -> None:
    c = shop.client
    paid = []
    for _ in range(2):
        placed = shop.order()
        r = deliver(c, payment_succeeded(placed["order"]["payment_intent_id"], 999, "EUR"))
        assert r.json()["status"] == "processed", r.text
        paid.append(placed["order"])
    r = deliver(c, refund_created(paid[0]["payment_intent_id"], 300, "EUR"))
    assert r.json()["status"] == "processed", r.text

    by_track = c.get("/api/finance/revenue?by=track", headers=shop.h("finance")).json()
    assert [(s["key"], s["currency"], s["total"]) for s in by_track] == [(shop.track_id, "EUR", 999 + 999 - 300)]
    by_payee = c.get("/api/finance/revenue?by=payee", headers=shop.h("finance")).json()
    assert sum(s["total"] for s in by_payee) == 1698
    assert {s["key"] for s in by_payee} == {shop.payee_ids[role] for role, _ in SPLIT}
    # Each payee's figure is what their statement shows for the period: sales plus (negative) refunds.
    period = next(iter(by_track[0]["points"]))
    lines = c.get(f"/api/finance/statements?period={period}", headers=shop.h("finance")).json()
    assert {line["payee_id"]: line["sales"] + line["refunds"] for line in lines} == \
        {s["key"]: s["points"][period] for s in by_payee}

    orders = c.get("/api/finance/orders", headers=shop.h("finance")).json()
    refunded = {o["public_id"]: o["refunded_minor"] for o in orders}
    assert refunded == {paid[0]["public_id"]: 300, paid[1]["public_id"]: 0}
    assert all(o["entitlement"] == "active" for o in orders)  # a partial refund keeps the licence

    uses = c.get(f"/api/consent/grants/{shop.grant_id}/uses", headers=shop.h("alpha"))
    assert uses.status_code == 200 and len(uses.json()["sales"]) == 2 and uses.json()["models"] == []
    assert c.get(f"/api/consent/grants/{shop.grant_id}/uses", headers=shop.h("beta")).status_code == 403
    assert c.get("/api/finance/revenue", headers=shop.h("fan")).status_code == 403


def test_split_sheets_waiting_for_finance_are_listed_until_approved(shop: Shop) -> None:
    c = shop.client
    assert c.get("/api/finance/split-sheets", headers=shop.h("finance")).json() == []
    r = c.post(f"/api/tracks/{shop.track_id}/split-sheets", headers=shop.h("finance"), json={"lines": [
        {"payee_id": shop.payee_ids["artist"], "role": "artist", "basis_points": 10_000}]})
    sheet_id = r.json()["id"]
    assert c.get("/api/finance/split-sheets?status=proposed", headers=shop.h("finance")).json()[0]["id"] == sheet_id
    c.post(f"/api/split-sheets/{sheet_id}/accept", headers=shop.h("alpha"))
    waiting = c.get("/api/finance/split-sheets", headers=shop.h("finance")).json()
    assert [(s["id"], s["track_title"], s["version"]) for s in waiting] == [(sheet_id, "Alpha Band Song", 2)]
    c.post(f"/api/split-sheets/{sheet_id}/approve", headers=shop.h("finance"))
    assert c.get("/api/finance/split-sheets", headers=shop.h("finance")).json() == []


def test_payment_config_tells_the_browser_it_is_test_mode(shop: Shop) -> None:
    body = shop.client.get("/api/commerce/payment-config", headers=shop.h("fan")).json()
    assert body == {"publishable_key": None, "test_mode": True}
