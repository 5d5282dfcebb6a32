"""Request and response shapes of the customer API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from kesu.complaints.enums import Tier
from kesu.complaints.schemas import PHONE_PATTERN, Strict

EDITABLE = ("name", "phone", "email", "tier", "region", "external_id")
ID_MAX = 2**31 - 1  # ids are 32-bit on PostgreSQL


class CustomerUpdate(Strict):
    """The fields to change; a field sent as ``null`` is cleared (except the name)."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    email: EmailStr | None = None
    tier: Tier | None = None
    region: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=128)
    reason: str | None = Field(default=None, max_length=500)

    def changes(self) -> dict[str, Any]:
        given = self.model_fields_set & set(EDITABLE)
        return {f: getattr(self, f) for f in EDITABLE if f in given}


class CustomerMergeIn(Strict):
    into: int = Field(ge=1, le=ID_MAX, description="id of the customer record to keep")
    reason: str | None = Field(default=None, max_length=500)


class AnonymizeIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="the request, e.g. its ticket")


class CustomerComplaint(BaseModel):
    id: int
    number: str
    title: str
    stage: str
    received_at: datetime
    is_open: bool
    contact: dict[str, Any] = Field(description="what this complaint said about the customer")


class CustomerOut(BaseModel):
    id: int
    name: str
    phone: str | None
    email: str | None
    tier: str
    region: str | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    anonymized_at: datetime | None
    notify_opt_out_at: datetime | None = None
    complaints: list[CustomerComplaint]


class AnonymizeOut(BaseModel):
    id: int
    complaints: int
    anonymized_at: datetime
