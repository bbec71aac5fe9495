"""Finance locks a period while a posting into it is in flight (PostgreSQL, READ COMMITTED, two real sessions).

The posting has already read which periods are locked and has not committed; finance locks the period and
exports its statement. Whatever the interleaving, the period as exported must be final: the in-flight posting
either lands in it before the lock completes (so the export shows it) or goes into the next open period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from remix.commerce import webhooks
from remix.commerce.ledger import next_period, period_of
from remix.commerce.models import LedgerTransaction
from remix.db import utcnow
from tests.commerce.conftest import Shop, dispute, new_id, payment_succeeded, refund_created
from tests.commerce.test_ledger import paid_order, reconciliation_ok


@pytest.fixture
def postgresql_url(database_url: str) -> str:
    """Listed before ``shop`` so that the SQLite run is skipped before a shop is built for it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs concurrent writers (PostgreSQL); SQLite's single writer serialises them anyway")
    return database_url


def in_flight_sale(shop: Shop) -> dict[str, Any]:
    order = shop.order()["order"]
    return payment_succeeded(order["payment_intent_id"], 999, "EUR")


def in_flight_refund(shop: Shop) -> dict[str, Any]:
    return refund_created(paid_order(shop)["payment_intent_id"], 400, "EUR")


def in_flight_dispute(shop: Shop) -> dict[str, Any]:
    pi = paid_order(shop)["payment_intent_id"]
    return dispute("charge.dispute.created", new_id("dp"), pi, 999, "EUR", "needs_response")


def exported_csv(shop: Shop, period: str) -> str:
    r = shop.client.get("/api/finance/statements.csv", params={"period": period}, headers=shop.h("finance"))
    assert r.status_code == 200, r.text
    return r.text


@pytest.mark.parametrize("arrange", [in_flight_sale, in_flight_refund, in_flight_dispute],
                         ids=["sale", "refund", "dispute"])
def test_a_period_locked_while_a_posting_is_in_flight_never_changes_after_its_export(
        postgresql_url: str, shop: Shop, arrange: Callable[[Shop], dict[str, Any]]) -> None:
    period = period_of(utcnow())
    in_flight = arrange(shop)
    state: Any = shop.client.app.state  # type: ignore[attr-defined]

    # The posting: the webhook's own transaction, applied up to (not including) its commit.
    posting = state.sessionmaker()
    monitor = create_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    finance: dict[str, Any] = {}

    def lock_then_export() -> None:
        r = shop.client.post(f"/api/finance/periods/{period}/lock", headers=shop.h("finance"))
        finance["lock"] = r.status_code
        finance["exported"] = exported_csv(shop, period)  # what finance sends out right after locking

    locker = threading.Thread(target=lock_then_export, daemon=True)
    try:
        outcome = webhooks.receive_batch(posting, state.settings, [in_flight], render_on_payment=False)[0]
        assert outcome.status == "processed", outcome
        posting_pid = posting.execute(text("SELECT pg_backend_pid()")).scalar_one()
        locker.start()
        # Wait until the lock either completed or is waiting for the posting's transaction: no sleeps, the
        # order of events is decided by the database's own lock table.
        deadline = time.monotonic() + 30
        with monitor.connect() as conn:
            while locker.is_alive():
                waiting_for_posting = conn.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND :pid = ANY(pg_blocking_pids(pid))"),
                    {"pid": posting_pid}).scalar_one()
                if waiting_for_posting:
                    break
                assert time.monotonic() < deadline, "the period lock neither completed nor waited"
                time.sleep(0.005)
        posting.commit()
    finally:
        posting.close()  # rolls back if anything above failed, so the lock can finish
        monitor.dispose()
    locker.join(timeout=30)
    assert not locker.is_alive() and finance["lock"] == 201, finance

    assert exported_csv(shop, period) == finance["exported"], \
        f"period {period} changed after finance locked and exported it"
    with state.sessionmaker() as session:
        landed = session.execute(select(LedgerTransaction.period).where(
            LedgerTransaction.provider_event_id == in_flight["id"])).scalars().all()
    assert len(landed) == 1 and landed[0] in (period, next_period(period)), landed
    reconciliation_ok(shop)
