"""Customer records: staff read, edit and merge them (audited with before and after).

Intake only links a complaint to a customer or creates one (``complaints.registration``); it
never edits one. A customer is visible to a user who may see at least one of its complaints
(admins, managers, executives, auditors and finance see all), otherwise it is a 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import User
from kesu.accounts.roles import ALL_DATA_ROLES, Role
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.access import scope_filter
from kesu.complaints.enums import EventKind
from kesu.complaints.models import Complaint, Customer
from kesu.customers.schemas import EDITABLE, CustomerUpdate
from kesu.errors import Conflict, InvalidInput, NotFound
from kesu.privacy.masking import mask_email, mask_phone
from kesu.privacy.service import contact_out
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

COMPLAINTS_SHOWN = 100
MERGED = N_("客户档案已合并")  # a timeline body, stored as the source text


def get_customer_for_user(session: Session, user: User, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or not _visible(session, user, customer_id):
        raise NotFound(_("没有这个客户：%(id)s") % {"id": customer_id}, field="id")
    return customer


def _visible(session: Session, user: User, customer_id: int) -> bool:
    if Role(user.role) in ALL_DATA_ROLES:
        return True
    return bool(
        session.scalar(
            select(exists().where(Complaint.customer_id == customer_id, scope_filter(user)))
        )
    )


def complaints_of(session: Session, user: User, customer: Customer) -> list[Complaint]:
    """The customer's newest complaints that ``user`` may see."""
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.customer_id == customer.id, scope_filter(user))
            .order_by(Complaint.id.desc())
            .limit(COMPLAINTS_SHOWN)
        )
    )


def customer_out(session: Session, user: User, customer: Customer, masked: bool) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "phone": mask_phone(customer.phone) if masked else customer.phone,
        "email": mask_email(customer.email) if masked else customer.email,
        "tier": customer.tier,
        "region": customer.region,
        "external_id": customer.external_id,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "anonymized_at": customer.anonymized_at,
        "notify_opt_out_at": customer.notify_opt_out_at,  # no messages but acknowledgements
        "complaints": [
            {
                "id": c.id,
                "number": c.number,
                "title": c.title,
                "stage": c.stage,
                "received_at": c.received_at,
                "is_open": c.is_open,
                "contact": contact_out(c, masked),
            }
            for c in complaints_of(session, user, customer)
        ],
    }


def _snapshot(customer: Customer) -> dict[str, Any]:
    return {f: getattr(customer, f) for f in EDITABLE}


def update_customer(
    session: Session, clock: Clock, actor: Actor, customer: Customer, data: CustomerUpdate
) -> dict[str, Any]:
    """Applies the given fields; returns the changes (audited as before/after)."""
    if customer.anonymized_at is not None:
        raise Conflict(_("该客户的资料已经匿名化，不能再修改"), code="anonymized")
    wanted = data.changes()
    if "name" in wanted and not wanted["name"]:
        raise InvalidInput(_("客户姓名不能为空"), field="name")
    if "tier" in wanted and wanted["tier"] is None:
        raise InvalidInput(_("请选择客户等级"), field="tier")
    before = _snapshot(customer)
    changed = {f: v for f, v in wanted.items() if before[f] != v}
    if not changed:
        return {}
    for field, value in changed.items():
        setattr(customer, field, value)
    customer.updated_at = clock.now()
    record_audit(
        session,
        clock,
        actor,
        "customer.update",
        "customer",
        customer.id,
        {
            "before": {f: before[f] for f in changed},
            "after": changed,
            "reason": data.reason,
        },
    )
    return changed


def merge_customers(
    session: Session,
    clock: Clock,
    actor: Actor,
    duplicate: Customer,
    keep: Customer,
    reason: str | None,
) -> int:
    """Moves ``duplicate``'s complaints to ``keep`` and deletes the duplicate record. Empty
    fields of the kept record are filled from the duplicate. Returns how many moved."""
    if duplicate.id == keep.id:
        raise InvalidInput(_("不能把客户合并到自己"), field="into")
    if keep.anonymized_at is not None or duplicate.anonymized_at is not None:
        raise Conflict(_("已匿名化的客户不能合并"), field="into", code="anonymized")
    before = {"kept": _snapshot(keep), "merged": {"id": duplicate.id, **_snapshot(duplicate)}}
    for field in ("phone", "email", "region", "external_id"):
        if not getattr(keep, field) and getattr(duplicate, field):
            setattr(keep, field, getattr(duplicate, field))
    moved = list(session.scalars(select(Complaint).where(Complaint.customer_id == duplicate.id)))
    for complaint in moved:
        complaint.customer = keep
        timeline.record(
            session,
            clock,
            actor,
            complaint,
            EventKind.customer_merged,
            body=MERGED,
            data={"from": duplicate.id, "into": keep.id},
        )
    keep.updated_at = clock.now()
    record_audit(
        session,
        clock,
        actor,
        "customer.merge",
        "customer",
        keep.id,
        {
            "before": before,
            "after": _snapshot(keep),
            "complaints": [c.number for c in moved],
            "reason": reason,
        },
    )
    record_audit(
        session,
        clock,
        actor,
        "customer.merged_into",
        "customer",
        duplicate.id,
        {"into": keep.id, "reason": reason},  # the values are in the kept record's row
    )
    session.flush()  # the complaints point at ``keep`` before the duplicate row goes
    session.delete(duplicate)
    return len(moved)
