"""``GET /api/v1/customers/lookup?phone=…``: the caller look-up behind the entry form, and
``GET /api/v1/search/complaints?q=…``: complaints best match first (issue 13).

Full paths on a router without prefix (the app includes this router once, before
``/customers/{id}``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, Permission
from kesu.complaints.access import scope_filter
from kesu.complaints.models import Complaint
from kesu.complaints.queries import stage_names
from kesu.privacy.service import audit_read, sees_contact, shown_text
from kesu.search import matching
from kesu.search.fulltext import query_tokens
from kesu.search.lookup import lookup_by_phone
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession

# Included before kesu.customers.api, whose /{customer_id} would otherwise catch "lookup".
router = APIRouter()
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


@router.get("/api/v1/customers/lookup", response_model=LookupOut, tags=["customers"])
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


class RankedComplaint(BaseModel):
    id: int
    number: str
    title: str
    stage: str
    stage_name: str
    is_open: bool
    received_at: datetime
    rank: float
    url: str


class RankedOut(BaseModel):
    q: str
    tokens: list[str]
    items: list[RankedComplaint]


@router.get("/api/v1/search/complaints", response_model=RankedOut, tags=["complaints"])
def ranked_complaints(
    q: Annotated[str, Query(min_length=1, max_length=200)],
    session: ReadSession,
    user: Reader,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> dict[str, Any]:
    """The complaints in your scope whose text, contact snapshot, order number or custom
    fields contain every word of ``q``, best match first (bm25 / ts_rank; lower ``rank`` is
    better; ties newest first), ranked among the newest 1,000 matches. One page, no cursor:
    the workbench list (``GET /api/v1/complaints?q=``) pages the same matches newest first."""
    found = matching.ranked(session, q, scope_filter(user), limit=limit)
    wanted = select(Complaint).where(Complaint.id.in_([i for i, _ in found]))
    rows = {c.id: c for c in session.scalars(wanted)}
    stages = stage_names(session)
    masked = not sees_contact(user)
    items = []
    for complaint_id, rank in found:
        c = rows.get(complaint_id)
        if c is None:  # pragma: no cover - erased between the two reads
            continue
        stage = stages.get(c.stage)
        items.append(
            {
                "id": c.id,
                "number": c.number,
                "title": shown_text(c.title, masked),
                "stage": c.stage,
                "stage_name": stage.name if stage else c.stage,
                "is_open": c.is_open,
                "received_at": c.received_at,
                "rank": rank,
                "url": f"/complaints/{c.number}",
            }
        )
    return {"q": q, "tokens": query_tokens(q), "items": items}
