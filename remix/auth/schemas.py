from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from remix.auth.models import Role


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    role: Role
    artist_ids: list[int]


class LoginResponse(BaseModel):
    token: str = Field(description="Bearer token; also set as the HttpOnly `remix_session` cookie.")
    expires_at: datetime
    user: UserOut


class RegisterFanRequest(BaseModel):
    email: EmailStr
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=200, description="At least 10 characters.")


class CreateUserRequest(RegisterFanRequest):
    role: Role
    artist_ids: list[int] = Field(default_factory=list, description="Artists an artist-role user acts for.")
