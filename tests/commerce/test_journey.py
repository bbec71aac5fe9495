"""The fan's journey against a real localstripe: pay with a test card, webhook, entitlement, render, download,
refund; and a declined card."""

from __future__ import annotations

import time
from typing import Any

import httpx
import stripe

from remix.commerce.entitlements import has_entitlement
from remix.commerce.models import LedgerTransaction, Order
from tests.commerce.conftest import LiveApp, Shop, deliver, event


def card_payment_method(localstripe: str, number: str) -> str:
    client = stripe.StripeClient("sk_test_remix", base_addresses={"api": localstripe})
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return pm.id


def wait_for_order(shop: Shop, public_id: str, status: str, seconds: float = 20) -> dict[str, Any]:
    """localstripe delivers its webhooks about a second after the payment."""
    deadline = time.monotonic() + seconds
    while True:
        body: dict[str, Any] = shop.client.get(f"/api/orders/{public_id}", headers=shop.h("fan")).json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_pay_webhook_entitle_render_download_refund(shop: Shop, live_app: LiveApp, localstripe: str) -> None:
    c = shop.client
    c.app.state.commerce_settings.render_on_payment = True  # type: ignore[attr-defined]
    spec = shop.spec()
    placed = shop.order(payment_method=card_payment_method(localstripe, "4242424242424242"), spec=spec)
    order = placed["order"]
    assert placed["payment"]["status"] == "succeeded"
    assert order["amount_minor"] == 999 and order["currency"] == "EUR" and order["status"] == "pending"
    # Nothing is fulfilled until the signed webhook from localstripe arrives.
    paid = wait_for_order(shop, order["public_id"], "paid")
    assert paid["status"] == "paid" and paid["entitlement"] == "active" and paid["licence_number"]

    with c.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        db_order = session.query(Order).filter_by(public_id=order["public_id"]).one()
        assert has_entitlement(session, shop.world.user_ids["fan"], shop.track_id, db_order.spec_hash)
        assert not has_entitlement(session, shop.world.user_ids["beta"], shop.track_id, db_order.spec_hash)
        sales = session.query(LedgerTransaction).filter_by(order_id=db_order.id).all()
        assert [t.kind.value for t in sales] == ["sale"]

    r = c.post(f"/api/orders/{order['public_id']}/download-url", headers=shop.h("fan"))
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    with httpx.Client(base_url=live_app.base_url, timeout=60) as anonymous:
        _download_refund_and_check(shop, order, paid, url, anonymous, localstripe)


def _download_refund_and_check(shop: Shop, order: dict[str, Any], paid: dict[str, Any], url: str,
                               anonymous: httpx.Client, localstripe: str) -> None:
    c = shop.client
    download = anonymous.get(url)
    assert download.status_code == 200, download.text
    assert download.content[:4] == b"RIFF" and len(download.content) > 40_000  # the paid spec rendered by the engine
    tampered = anonymous.get(url.replace("signature=", "signature=0"))
    assert tampered.status_code == 403
    # Another fan cannot mint a URL for this order.
    assert c.post(f"/api/orders/{order['public_id']}/download-url", headers=shop.h("beta")).status_code == 404

    # Finance refunds in full through Stripe (localstripe); Stripe's refund webhook is built from the real
    # refund object, signed, and delivered.
    r = c.post(f"/api/finance/orders/{order['public_id']}/refund", json={}, headers=shop.h("finance"))
    assert r.status_code == 200, r.text
    refund = stripe.StripeClient("sk_test_remix", base_addresses={"api": localstripe}).v1.refunds.retrieve(
        r.json()["refund_id"])
    refund_obj = {"id": refund.id, "object": "refund", "amount": refund.amount, "currency": refund.currency,
                  "payment_intent": order["payment_intent_id"], "status": refund.status}
    assert deliver(c, event("refund.created", refund_obj)).json()["status"] == "processed"
    assert deliver(c, event("charge.refund.updated", refund_obj)).json()["note"] == "already posted"

    after = c.get(f"/api/orders/{order['public_id']}", headers=shop.h("fan")).json()
    assert after["entitlement"] == "revoked"
    assert anonymous.get(url).status_code == 409  # the licence is revoked: downloads closed
    lines = {x["payee_id"]: x for x in c.get("/api/finance/statements", params={"period": paid["paid_at"][:7]},
                                             headers=shop.h("finance")).json()}
    assert {x["sales"] for x in lines.values()} and all(x["closing"] == 0 for x in lines.values())
    assert sum(x["sales"] for x in lines.values()) == 999
    report = c.get("/api/finance/reconciliation", headers=shop.h("finance")).json()
    assert report["ok"], report


def test_declined_card_is_not_fulfilled(shop: Shop, live_app: LiveApp, localstripe: str) -> None:
    # 4000 0000 0000 0341: Stripe's test card that attaches but whose charge is declined.
    placed = shop.order(payment_method=card_payment_method(localstripe, "4000000000000341"))
    assert placed["payment"]["error"]  # the decline is reported to the fan, not raised as a server error
    failed = wait_for_order(shop, placed["order"]["public_id"], "failed")
    assert failed["status"] == "failed" and failed["entitlement"] is None
    c = shop.client
    assert c.post(f"/api/orders/{failed['public_id']}/download-url", headers=shop.h("fan")).status_code == 409
    report = c.get("/api/finance/reconciliation", headers=shop.h("finance")).json()
    assert report["ok"] and report["provider_balance"] == {}
