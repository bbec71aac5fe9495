"""Who is calling, and may they: one dependency per endpoint states the roles it admits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from remix.auth.models import Role, User
from remix.auth.service import user_for_token
from remix.db import SessionDep
from remix.errors import Forbidden, Unauthorized

SESSION_COOKIE = "remix_session"
_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/auth/login")


def request_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None:
        return credentials.credentials
    return request.cookies.get(SESSION_COOKIE)


def optional_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | None:
    token = request_token(request, credentials)
    return user_for_token(session, token) if token else None


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("log in first: send 'Authorization: Bearer <token>' or the session cookie")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    """A dependency admitting only ``roles`` (admin is always admitted)."""
    allowed = {*roles, Role.admin}

    def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"this needs one of the roles: {names}; you are '{user.role.value}'")
        return user

    return dependency


ArtistUser = Annotated[User, Depends(require_roles(Role.artist))]
FinanceUser = Annotated[User, Depends(require_roles(Role.finance))]
AdminUser = Annotated[User, Depends(require_roles())]


def ensure_acts_for(user: User, artist_id: int) -> None:
    """An artist may act only on their own artists' catalog; admins on any."""
    if user.role == Role.admin:
        return
    if user.role != Role.artist or artist_id not in user.artist_ids:
        raise Forbidden(f"you do not act for artist {artist_id}")
