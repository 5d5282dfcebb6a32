from __future__ import annotations

from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from kesu.errors import InvalidInput
from kesu.web.i18n import gettext as _


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: str
    team: str | None = Field(default=None, description="team code")
    display_name: str = Field(default="", max_length=128)
    email: EmailStr | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)


def checked_email(value: str | None) -> str | None:
    """A user's email, normalised; empty → ``None``; not an address → 422 naming ``email``."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise InvalidInput(_("邮箱地址无效"), field="email") from None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    team: str | None
    email: str | None
    is_active: bool
    created_at: datetime


class TeamCreate(Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    name_en: str = Field(default="", max_length=128)
    parent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class TeamOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str
    parent_id: int | None
    is_active: bool


class TokenCreate(Strict):
    name: str = Field(default="", max_length=128)
    password: str | None = Field(
        default=None,
        max_length=256,
        description="the caller's password (required, except for an admin minting for another)",
    )
    days: int | None = Field(
        default=None, ge=1, le=3660, description="lifetime in days (default: 90; capped)"
    )
    username: str | None = Field(
        default=None, max_length=64, description="admin only: mint the token for this user"
    )


class TokenOut(BaseModel):
    token: str = Field(description="shown once; only its digest is stored")
    id: int
    name: str
    prefix: str
    user: str
    expires_at: datetime | None


class TokenInfo(BaseModel):
    id: int
    name: str
    prefix: str
    user: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: str = Field(description="active, expired or revoked")
