"""Commerce tables: payees and split sheets, products, orders, entitlements, licences, provider events, ledger.

Money is always an integer count of the currency's minor unit (cents, yen, fils) next to its ISO code.
Ledger transactions and entries, licences, split-sheet lines and period locks are facts: once written
they are never changed or removed (the 0004 migration installs triggers that refuse UPDATE/DELETE).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remix.db import Base, UTCDateTime, utcnow


class PayeeRole(enum.StrEnum):
    artist = "artist"
    label = "label"
    songwriter = "songwriter"
    producer = "producer"
    publisher = "publisher"
    platform = "platform"


class SplitSheetStatus(enum.StrEnum):
    proposed = "proposed"  # waiting for the artist
    accepted = "accepted"  # the artist accepted; waiting for finance
    approved = "approved"  # governs new sales (the newest approved version does)
    rejected = "rejected"


class OrderStatus(enum.StrEnum):
    pending = "pending"  # PaymentIntent created, not paid yet
    failed = "failed"  # the provider reported a failed payment (a later success still makes it paid)
    paid = "paid"


class EntitlementStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"  # a dispute is open
    revoked = "revoked"  # fully refunded or dispute lost


class EventStatus(enum.StrEnum):
    processed = "processed"
    deferred = "deferred"  # refers to a payment whose sale has not been posted yet; replayed after it
    ignored = "ignored"  # a type or object we do not act on


class TransactionKind(enum.StrEnum):
    sale = "sale"
    refund = "refund"
    dispute_opened = "dispute_opened"
    dispute_won = "dispute_won"
    dispute_lost = "dispute_lost"


class AccountKind(enum.StrEnum):
    provider = "provider"  # money held at the payment provider, per currency
    clearing = "clearing"  # sale proceeds in transit to payees; nets to zero in every transaction
    payable = "payable"  # what we owe a payee, per currency
    dispute_hold = "dispute_hold"  # a payee's share frozen while a dispute is open


class Payee(Base):
    """Someone a split sheet pays: an artist, a label, a songwriter, the platform."""

    __tablename__ = "payees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    artist_id: Mapped[int | None] = mapped_column(ForeignKey("artists.id"), nullable=True, index=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SplitSheet(Base):
    """One version of a track's royalty split. A new version is a new row; lines never change."""

    __tablename__ = "split_sheets"
    __table_args__ = (UniqueConstraint("track_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[SplitSheetStatus] = mapped_column(Enum(SplitSheetStatus, native_enum=False, length=16))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")

    lines: Mapped[list[SplitSheetLine]] = relationship(order_by="SplitSheetLine.position", lazy="selectin")


class SplitSheetLine(Base):
    __tablename__ = "split_sheet_lines"
    __table_args__ = (
        UniqueConstraint("split_sheet_id", "payee_id", "role"),
        CheckConstraint("basis_points > 0 AND basis_points <= 10000", name="basis_points_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    split_sheet_id: Mapped[int] = mapped_column(ForeignKey("split_sheets.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    payee_id: Mapped[int] = mapped_column(ForeignKey("payees.id"))
    role: Mapped[PayeeRole] = mapped_column(Enum(PayeeRole, native_enum=False, length=16))
    basis_points: Mapped[int] = mapped_column(Integer)


class TrackProduct(Base):
    """What a fan can buy for a track (e.g. the full-length licensed version) and its price."""

    __tablename__ = "track_products"
    __table_args__ = (
        UniqueConstraint("track_id", "product"),
        CheckConstraint("price_minor > 0", name="price_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), index=True)
    product: Mapped[str] = mapped_column(String(32))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    licence_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    terms: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    updated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(Base):
    """A fan's purchase of one product for one saved remix spec, priced and split when placed."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), index=True)
    product: Mapped[str] = mapped_column(String(32))
    spec_json: Mapped[str] = mapped_column(Text)
    spec_hash: Mapped[str] = mapped_column(String(64), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    split_sheet_id: Mapped[int] = mapped_column(ForeignKey("split_sheets.id"))
    licence_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    terms: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, native_enum=False, length=16))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    needs_refund: Mapped[bool] = mapped_column(default=False)  # paid, but consent was gone: finance refunds


class Entitlement(Base):
    """The fan's right to download the long version of one spec; its status follows refunds and disputes."""

    __tablename__ = "entitlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"))
    spec_hash: Mapped[str] = mapped_column(String(64), index=True)
    product: Mapped[str] = mapped_column(String(32))
    status: Mapped[EntitlementStatus] = mapped_column(Enum(EntitlementStatus, native_enum=False, length=16))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class License(Base):
    """The licence issued for a paid order, with its terms as sold. Never changed once written."""

    __tablename__ = "licenses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"))
    spec_hash: Mapped[str] = mapped_column(String(64))
    product: Mapped[str] = mapped_column(String(32))
    split_sheet_id: Mapped[int] = mapped_column(ForeignKey("split_sheets.id"))
    consent_grant_ids: Mapped[str] = mapped_column(Text)  # JSON list of the sell_extended grants relied on
    terms: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ProviderEvent(Base):
    """A payment-provider webhook event, stored once by its id (duplicates are dropped on insert)."""

    __tablename__ = "provider_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    created: Mapped[int] = mapped_column(BigInteger)  # the provider's unix timestamp of the event
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[EventStatus] = mapped_column(Enum(EventStatus, native_enum=False, length=16))
    note: Mapped[str] = mapped_column(String(300), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100))
    kind: Mapped[AccountKind] = mapped_column(Enum(AccountKind, native_enum=False, length=16))
    payee_id: Mapped[int | None] = mapped_column(ForeignKey("payees.id"), nullable=True, index=True)
    currency: Mapped[str] = mapped_column(String(3))


class LedgerTransaction(Base):
    """One balanced posting. ``source_key`` (e.g. ``sale:pi_…``, ``refund:re_…``) makes each posting unique."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[TransactionKind] = mapped_column(Enum(TransactionKind, native_enum=False, length=16))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    split_sheet_id: Mapped[int] = mapped_column(ForeignKey("split_sheets.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # the gross amount this posting moves (> 0)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM it is reported in
    provider_event_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entries: Mapped[list[LedgerEntry]] = relationship(order_by="LedgerEntry.id", lazy="selectin")


class LedgerEntry(Base):
    """A signed amount on one account: positive = debit, negative = credit. A transaction's entries sum to 0."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class PeriodLock(Base):
    """Finance closed a period: nothing is ever posted into it again."""

    __tablename__ = "ledger_period_locks"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    locked_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
