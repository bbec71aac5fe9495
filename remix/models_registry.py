"""Imports every ORM model so that ``Base.metadata`` is complete (Alembic and tests use it)."""

from remix.audit.models import AuditEvent
from remix.auth.models import ArtistMembership, LoginSession, User
from remix.catalog.models import Album, Artist, Asset, ConsentGrant, ConsentRevocation, Track
from remix.db import Base

__all__ = [
    "Album",
    "Artist",
    "ArtistMembership",
    "Asset",
    "AuditEvent",
    "Base",
    "ConsentGrant",
    "ConsentRevocation",
    "LoginSession",
    "Track",
    "User",
]
