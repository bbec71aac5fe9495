"""Imports every ORM model so that ``Base.metadata`` is complete (Alembic and tests use it)."""

from remix.audit.models import AuditEvent
from remix.auth.models import ArtistMembership, LoginSession, User
from remix.catalog.models import Album, Artist, Asset, ConsentGrant, ConsentRevocation, Track
from remix.commerce.models import (
    Entitlement,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    License,
    Order,
    Payee,
    PeriodLock,
    ProviderEvent,
    SplitSheet,
    SplitSheetLine,
    TrackProduct,
)
from remix.db import Base
from remix.live.models import LiveSnapshot
from remix.provenance.models import CatalogFingerprint, Render
from remix.visuals.models import PromptRules, VisualModel, VisualModelSource

__all__ = [
    "Album",
    "Artist",
    "ArtistMembership",
    "Asset",
    "AuditEvent",
    "Base",
    "CatalogFingerprint",
    "ConsentGrant",
    "ConsentRevocation",
    "Entitlement",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "License",
    "LiveSnapshot",
    "LoginSession",
    "Order",
    "Payee",
    "PeriodLock",
    "PromptRules",
    "ProviderEvent",
    "Render",
    "SplitSheet",
    "SplitSheetLine",
    "Track",
    "TrackProduct",
    "User",
    "VisualModel",
    "VisualModelSource",
]
