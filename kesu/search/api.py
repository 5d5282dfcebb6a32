"""``GET /api/v1/customers/lookup?phone=…``: the caller look-up behind the entry form."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, Permission
from kesu.privacy.service import audit_read, sees_contact
from kesu.search.lookup import lookup_by_phone
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession

# Included before kesu.customers.api, whose /{customer_id} would otherwise catch "lookup".
router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
Reader = Annotated[User, Needs(Permission.complaint_read)]


class LookupComplaint(BaseModel):
    id: int
    number: str
    title: str
    stage: str
    stage_name: str
    is_open: bool
    received_at: datetime
    url: str


class LookupCustomer(BaseModel):
    id: int
    name: str
    phone: str | None
    email: str | None
    tier: str
    exact: bool
    complaints: list[LookupComplaint]
    more: bool


class LookupOut(BaseModel):
    phone: str
    customers: list[LookupCustomer]


@router.get("/lookup", response_model=LookupOut)
def lookup(
    phone: Annotated[str, Query(min_length=1, max_length=32)],
    session: ReadSession,
    db: DatabaseDep,
    user: Reader,
    clock: ClockDep,
) -> dict[str, Any]:
    """The customers whose phone starts with ``phone`` (at least 7 digits; spaces, dashes and
    +86 allowed) and whose complaints you may see, each with their newest complaints in your
    scope. Phone and email are masked unless your role has ``contact.view`` (each customer
    shown unmasked is audited as a contact read)."""
    masked = not sees_contact(user)
    found = lookup_by_phone(session, user, phone, masked)
    if not masked:
        for customer in found["customers"]:
            audit_read(db, clock, user, "customer", str(customer["id"]), {"via": "lookup"})
    return found
