"""Who may have the long version of a spec, and the signed, expiring URLs that deliver it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from remix.commerce import repository
from remix.db import utcnow


def has_entitlement(session: Session, user_id: int, track_id: int, spec_hash: str) -> bool:
    """True while ``user_id`` holds an active, unexpired entitlement to ``spec_hash`` of ``track_id``.

    The audio engine asks this before rendering anything longer than the free clip.
    """
    return repository.active_entitlement_exists(session, user_id, track_id, spec_hash, utcnow())


def download_signature(secret_key: str, order_public_id: str, expires: int) -> str:
    message = f"remix-download\n{order_public_id}\n{expires}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def signed_download_path(secret_key: str, order_public_id: str, ttl_seconds: int) -> tuple[str, datetime]:
    """A path that downloads the order's long version until it expires (no login needed: the URL is the key)."""
    expires = int(utcnow().timestamp()) + ttl_seconds
    signature = download_signature(secret_key, order_public_id, expires)
    return (f"/api/downloads/{order_public_id}?expires={expires}&signature={signature}",
            datetime.fromtimestamp(expires, UTC))


def signature_is_valid(secret_key: str, order_public_id: str, expires: int, signature: str) -> bool:
    expected = download_signature(secret_key, order_public_id, expires)
    # Bytes, not str: compare_digest raises on non-ASCII text, and a link's signature is whatever the caller sent.
    return hmac.compare_digest(expected.encode(), signature.encode()) and expires > utcnow().timestamp()
