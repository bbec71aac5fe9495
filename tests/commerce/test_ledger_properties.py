"""Random sales, partial refunds and disputes, every webhook delivered 1–3 times in shuffled order: the ledger
equals a simple reference model and every invariant holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from remix.commerce.allocation import allocate_shares
from remix.commerce.models import (
    AccountKind,
    Entitlement,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    TransactionKind,
)
from tests.commerce.conftest import SPLIT, Shop, deliver, dispute, new_id, payment_succeeded, refund_created

CURRENCIES = {"JPY": 1, "EUR": 1, "KWD": 10}  # KWD prices are multiples of 10 (Stripe's rule)
BPS = [bp for _, bp in SPLIT]


@dataclass
class ModelOrder:
    """The reference model of one order: its facts, whatever order they are delivered in."""

    public_id: str
    pi: str
    gross: int
    currency: str
    refunds: list[int] = field(default_factory=list)
    disputes: dict[str, tuple[int, str]] = field(default_factory=dict)  # id → (amount, open|won|lost)

    @property
    def committed(self) -> int:
        """Refunds plus every dispute amount: kept ≤ gross so any delivery order is valid."""
        return sum(self.refunds) + sum(a for a, _ in self.disputes.values())

    def owed_to_payees(self) -> list[int]:
        taken = sum(self.refunds) + sum(a for a, s in self.disputes.values() if s in ("open", "lost"))
        return [g - t for g, t in zip(allocate_shares(self.gross, BPS), allocate_shares(taken, BPS), strict=True)]

    def provider(self) -> int:
        return self.gross - sum(self.refunds) - sum(a for a, s in self.disputes.values() if s == "lost")

    def entitlement(self) -> str:
        if sum(self.refunds) >= self.gross or any(s == "lost" for _, s in self.disputes.values()):
            return "revoked"
        return "suspended" if any(s == "open" for _, s in self.disputes.values()) else "active"


def run_ledger_machine(shop: Shop) -> None:
    client = shop.client
    sessionmaker = client.app.state.sessionmaker  # type: ignore[attr-defined]
    all_orders: list[ModelOrder] = []  # across examples: the database is shared by them

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.orders: list[ModelOrder] = []
            self.outbox: list[dict[str, Any]] = []  # event copies not delivered yet

        def queue(self, evt: dict[str, Any], copies: int) -> None:
            self.outbox.extend([evt] * copies)

        @rule(currency=st.sampled_from(sorted(CURRENCIES)), units=st.integers(1, 5000), copies=st.integers(1, 3))
        def sale(self, currency: str, units: int, copies: int) -> None:
            price = units * CURRENCIES[currency]
            shop.set_price(price, currency)
            order = shop.order()["order"]
            model = ModelOrder(order["public_id"], order["payment_intent_id"], price, currency)
            self.orders.append(model)
            all_orders.append(model)
            self.queue(payment_succeeded(model.pi, price, currency), copies)

        @precondition(lambda self: self.orders)
        @rule(data=st.data(), copies=st.integers(1, 3))
        def refund(self, data: st.DataObject, copies: int) -> None:
            order = data.draw(st.sampled_from(self.orders))
            room = (order.gross - order.committed) // CURRENCIES[order.currency]
            if room <= 0:
                return
            amount = data.draw(st.integers(1, room)) * CURRENCIES[order.currency]
            order.refunds.append(amount)
            self.queue(refund_created(order.pi, amount, order.currency), copies)

        @precondition(lambda self: self.orders)
        @rule(data=st.data(), outcome=st.sampled_from(["open", "won", "lost"]), copies=st.integers(1, 3))
        def dispute(self, data: st.DataObject, outcome: str, copies: int) -> None:
            order = data.draw(st.sampled_from(self.orders))
            room = (order.gross - order.committed) // CURRENCIES[order.currency]
            if room <= 0:
                return
            amount = data.draw(st.integers(1, room)) * CURRENCIES[order.currency]
            dp = new_id("dp")
            order.disputes[dp] = (amount, outcome)
            self.queue(dispute("charge.dispute.created", dp, order.pi, amount, order.currency, "needs_response"),
                       copies)
            if outcome != "open":
                self.queue(dispute("charge.dispute.closed", dp, order.pi, amount, order.currency, outcome), copies)

        @precondition(lambda self: self.outbox)
        @rule(data=st.data())
        def deliver_one(self, data: st.DataObject) -> None:
            evt = self.outbox.pop(data.draw(st.integers(0, len(self.outbox) - 1)))
            r = deliver(client, evt)
            assert r.status_code == 200, r.text
            assert r.json()["status"] in ("processed", "deferred", "duplicate"), r.text

        @invariant()
        def every_transaction_balances(self) -> None:
            with sessionmaker() as session:
                unbalanced = session.execute(
                    select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
                    .having(func.sum(LedgerEntry.amount_minor) != 0)
                ).all()
                assert unbalanced == []

        def teardown(self) -> None:
            for evt in self.outbox:
                r = deliver(client, evt)
                assert r.status_code == 200 and r.json()["status"] in ("processed", "duplicate"), r.text
            self.outbox.clear()
            self.check_against_model()

        def check_against_model(self) -> None:
            report = client.get("/api/finance/reconciliation", headers=shop.h("finance")).json()
            assert report["ok"], report
            with sessionmaker() as session:
                for model in all_orders:
                    order = session.execute(select(Order).where(Order.public_id == model.public_id)).scalar_one()
                    assert order.status.value == "paid"
                    kinds = [t.kind for t in session.execute(
                        select(LedgerTransaction).where(LedgerTransaction.order_id == order.id)).scalars()]
                    assert kinds.count(TransactionKind.sale) == 1
                    assert kinds.count(TransactionKind.refund) == len(model.refunds)
                    entitlement = session.execute(
                        select(Entitlement).where(Entitlement.order_id == order.id)).scalar_one()
                    assert entitlement.status.value == model.entitlement()
                expected: dict[tuple[int, str], int] = {}
                provider: dict[str, int] = {}
                for model in all_orders:
                    for (role, _), share in zip(SPLIT, model.owed_to_payees(), strict=True):
                        key = (shop.payee_ids[role], model.currency)
                        expected[key] = expected.get(key, 0) + share
                    provider[model.currency] = provider.get(model.currency, 0) + model.provider()
                rows = session.execute(
                    select(LedgerAccount.payee_id, LedgerAccount.currency, LedgerAccount.kind,
                           func.sum(LedgerEntry.amount_minor))
                    .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
                    .group_by(LedgerAccount.payee_id, LedgerAccount.currency, LedgerAccount.kind)
                ).all()
                payable = {(p, c): -int(t) for p, c, k, t in rows if k == AccountKind.payable and int(t)}
                assert payable == {k: v for k, v in expected.items() if v}
                assert {c: int(t) for _, c, k, t in rows if k == AccountKind.provider and int(t)} == \
                    {c: v for c, v in provider.items() if v}
                held = sum(int(t) for _, _, k, t in rows if k == AccountKind.dispute_hold)
                assert -held == sum(a for m in all_orders for a, s in m.disputes.values() if s == "open")

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=6, stateful_step_count=18, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )


def test_ledger_matches_reference_model_under_duplicated_reordered_delivery(shop: Shop) -> None:
    run_ledger_machine(shop)
