"""Accounts and login sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remix.audit import service as audit
from remix.auth import repository
from remix.auth.models import Role, User
from remix.auth.passwords import hash_password, verify_password
from remix.catalog.models import Artist
from remix.db import utcnow
from remix.errors import BadRequest, Conflict, Unauthorized

# A valid hash to verify against when the email is unknown, so both paths take the same time.
_DUMMY_HASH = hash_password("not-a-real-password")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    *,
    email: str,
    display_name: str,
    password: str,
    role: Role,
    artist_ids: list[int] | None = None,
    actor_user_id: int | None = None,
) -> User:
    """Create an account; artist-role users may be attached to the artists they act for."""
    if repository.user_by_email(session, email) is not None:
        raise Conflict(f"an account with email {email.lower()} already exists")
    if artist_ids and role != Role.artist:
        raise BadRequest("only artist accounts act for artists")
    for artist_id in artist_ids or []:
        if session.get(Artist, artist_id) is None:
            raise BadRequest(f"artist {artist_id} does not exist")
    try:
        user = repository.add_user(
            session, email=email, display_name=display_name, role=role, password_hash=hash_password(password)
        )
    except IntegrityError as exc:  # a concurrent signup took the email first
        raise Conflict(f"an account with email {email.lower()} already exists") from exc
    for artist_id in artist_ids or []:
        repository.add_membership(session, user.id, artist_id)
    session.refresh(user)
    audit.record(session, "user.created", "user", user.id, actor_user_id=actor_user_id,
                 email=user.email, role=role.value, artist_ids=sorted(artist_ids or []))
    return user


def login(session: Session, email: str, password: str, ttl: timedelta) -> IssuedToken:
    """Check the password and open a session; the same error for unknown email and wrong password."""
    user = repository.user_by_email(session, email)
    if not verify_password(user.password_hash if user else _DUMMY_HASH, password) or user is None:
        raise Unauthorized("email or password is wrong")
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + ttl
    repository.add_login_session(session, user.id, token_digest(token), expires_at)
    return IssuedToken(token=token, expires_at=expires_at, user=user)


def user_for_token(session: Session, token: str) -> User | None:
    row = repository.login_session_by_token_hash(session, token_digest(token))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return row.user


def logout(session: Session, token: str) -> None:
    row = repository.login_session_by_token_hash(session, token_digest(token))
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
