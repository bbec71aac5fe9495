from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remix.auth.models import ArtistMembership, LoginSession, Role, User


def user_by_email(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(func.lower(User.email) == email.lower())).scalar_one_or_none()


def add_user(session: Session, *, email: str, display_name: str, role: Role, password_hash: str) -> User:
    user = User(email=email.lower(), display_name=display_name, role=role, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def add_membership(session: Session, user_id: int, artist_id: int) -> None:
    session.add(ArtistMembership(user_id=user_id, artist_id=artist_id))
    session.flush()


def add_login_session(session: Session, user_id: int, token_sha256: str, expires_at: datetime) -> LoginSession:
    row = LoginSession(user_id=user_id, token_sha256=token_sha256, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def login_session_by_token_hash(session: Session, token_sha256: str) -> LoginSession | None:
    return session.execute(
        select(LoginSession).where(LoginSession.token_sha256 == token_sha256)
    ).scalar_one_or_none()
