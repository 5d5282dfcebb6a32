"""JSON routes for customer records under /api/v1/customers. Thin: parse, call, commit, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, NeedsW, Permission
from kesu.customers import service
from kesu.customers.schemas import (
    ID_MAX,
    AnonymizeIn,
    AnonymizeOut,
    CustomerMergeIn,
    CustomerOut,
    CustomerUpdate,
)
from kesu.privacy import erasure
from kesu.privacy.service import audit_read, sees_contact
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, actor_for

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

Id = Annotated[int, Path(ge=1, le=ID_MAX)]
Reader = Annotated[User, Needs(Permission.complaint_read)]
Editor = Annotated[User, NeedsW(Permission.customer_edit)]
Eraser = Annotated[User, NeedsW(Permission.customer_anonymize)]


@router.get("/{customer_id}", response_model=CustomerOut)
def get(
    customer_id: Id, session: ReadSession, db: DatabaseDep, user: Reader, clock: ClockDep
) -> dict[str, Any]:
    """The customer record and their complaints you may see (each with what it said about the
    customer). Phone and email are masked unless your role has ``contact.view`` (audited)."""
    customer = service.get_customer_for_user(session, user, customer_id)
    masked = not sees_contact(user)
    if not masked:
        audit_read(db, clock, user, "customer", str(customer.id), {})
    return service.customer_out(session, user, customer, masked)


@router.patch("/{customer_id}", response_model=CustomerOut)
def update(
    customer_id: Id, body: CustomerUpdate, db: DatabaseDep, user: Editor, clock: ClockDep
) -> dict[str, Any]:
    """Edits the record (staff only; audited with before and after). Complaints keep what they
    said about the customer."""
    with db.session() as session:
        customer = service.get_customer_for_user(session, user, customer_id)
        service.update_customer(session, clock, actor_for(user), customer, body)
        session.commit()
        return service.customer_out(session, user, customer, not sees_contact(user))


@router.post("/{customer_id}/merge", response_model=CustomerOut)
def merge(
    customer_id: Id, body: CustomerMergeIn, db: DatabaseDep, user: Editor, clock: ClockDep
) -> dict[str, Any]:
    """Merges this customer (a duplicate) into ``into``: its complaints move there and this
    record is deleted. Returns the record kept."""
    with db.session() as session:
        duplicate = service.get_customer_for_user(session, user, customer_id)
        keep = service.get_customer_for_user(session, user, body.into)
        service.merge_customers(session, clock, actor_for(user), duplicate, keep, body.reason)
        session.commit()
        return service.customer_out(session, user, keep, not sees_contact(user))


@router.post("/{customer_id}/anonymize", response_model=AnonymizeOut)
def anonymize(
    customer_id: Id, body: AnonymizeIn, db: DatabaseDep, user: Eraser, clock: ClockDep
) -> dict[str, Any]:
    """Erases the customer's personal data (PIPL request): name, phone, email and external id
    on the record and on every complaint, and in the complaints' texts. The complaints and
    their statistics stay. Cannot be undone."""
    with db.session() as session:
        customer = service.get_customer_for_user(session, user, customer_id)
        count = erasure.anonymize_customer(session, clock, actor_for(user), customer, body.reason)
        session.commit()
        return {"id": customer.id, "complaints": count, "anonymized_at": customer.anonymized_at}
