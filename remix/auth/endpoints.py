"""Login, logout, who-am-I and account creation."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from remix.auth import service
from remix.auth.deps import SESSION_COOKIE, AdminUser, CurrentUser
from remix.auth.models import Role, User
from remix.auth.schemas import CreateUserRequest, LoginRequest, LoginResponse, RegisterFanRequest, UserOut
from remix.db import SessionDep
from remix.errors import BadRequest, Conflict, Forbidden, Unauthorized, error_responses

router = APIRouter(prefix="/api/auth", tags=["auth"])


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, display_name=user.display_name, role=user.role,
                   artist_ids=sorted(user.artist_ids))


@router.post("/login", response_model=LoginResponse, responses=error_responses(Unauthorized))
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep) -> LoginResponse:
    """Exchange email and password for a bearer token (also set as an HttpOnly, SameSite=Strict cookie)."""
    ttl = timedelta(hours=request.app.state.settings.session_ttl_hours)
    issued = service.login(session, body.email, body.password, ttl)
    response.set_cookie(SESSION_COOKIE, issued.token, max_age=int(ttl.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return LoginResponse(token=issued.token, expires_at=issued.expires_at, user=user_out(issued.user))


@router.post("/logout", status_code=204, responses=error_responses(Unauthorized))
def logout(request: Request, response: Response, session: SessionDep, user: CurrentUser) -> None:
    """End the current session; its token stops working at once."""
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE, "")
    service.logout(session, token)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", response_model=UserOut, responses=error_responses(Unauthorized))
def me(user: CurrentUser) -> UserOut:
    """The logged-in account, its role and the artists it acts for."""
    return user_out(user)


@router.post("/register", response_model=UserOut, status_code=201, responses=error_responses(Conflict))
def register_fan(body: RegisterFanRequest, session: SessionDep) -> UserOut:
    """Anyone may open a fan account. Artist, finance and admin accounts are created by an admin."""
    user = service.create_user(session, email=body.email, display_name=body.display_name,
                               password=body.password, role=Role.fan)
    return user_out(user)


@router.post("/users", response_model=UserOut, status_code=201,
             responses=error_responses(Unauthorized, Forbidden, Conflict, BadRequest))
def create_user(body: CreateUserRequest, session: SessionDep, admin: AdminUser) -> UserOut:
    """Admin only: create an account of any role, attaching artist accounts to their artists."""
    user = service.create_user(session, email=body.email, display_name=body.display_name,
                               password=body.password, role=body.role, artist_ids=body.artist_ids,
                               actor_user_id=admin.id)
    return user_out(user)
