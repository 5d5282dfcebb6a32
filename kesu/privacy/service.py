"""Who sees a customer's contact details, and the audit of every unmasked read and export.

The phone and email of a complaint are shown unmasked only to roles with ``contact.view``
(agents and leads in their scope, managers, executives, admins); scope itself is
``complaints.access``. Each unmasked read leaves one ``contact.view`` audit row per user,
complaint and day (a second look the same day costs one indexed read, no write).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import AuditLog, User
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.db import Database
from kesu.privacy.masking import EMAIL_IN_TEXT, PHONE_IN_TEXT, mask_email, mask_phone, mask_text

CONTACT_VIEW = "contact.view"
EXPORT = "export"


def sees_contact(user: User) -> bool:
    """Whether ``user``'s role sees phone numbers and emails unmasked (scope checked apart)."""
    return can(user.role, Permission.contact_view)


def contact_out(complaint: Complaint, masked: bool) -> dict[str, Any]:
    """The customer as this complaint gave them (its snapshot), with the record's id and tier."""
    customer = complaint.customer
    name = complaint.contact_name if complaint.contact_name is not None else customer.name
    phone = complaint.contact_phone if complaint.contact_name is not None else customer.phone
    email = complaint.contact_email if complaint.contact_name is not None else customer.email
    return {
        "id": customer.id,
        "name": name or "",
        "phone": mask_phone(phone) if masked else phone,
        "email": mask_email(email) if masked else email,
        "tier": customer.tier,
        "region": customer.region,
        "external_id": customer.external_id,
        "anonymized": customer.anonymized_at is not None,
    }


def shown_text(text: str, masked: bool) -> str:
    """A complaint's text or a timeline message as this viewer may read it."""
    return mask_text(text) if masked else text


def masked_event(event: dict[str, Any]) -> dict[str, Any]:
    """A timeline event (``queries.event_out``) with the contact details in its text masked."""
    return {**event, "body": mask_text(event["body"])}


def audit_contact_read(db: Database, clock: Clock, user: User, complaint: Complaint) -> bool:
    """Records that ``user`` saw ``complaint``'s contact details unmasked (once a day)."""
    return audit_read(
        db, clock, user, "complaint", complaint.number, {"customer_id": complaint.customer_id}
    )


def audit_read(
    db: Database, clock: Clock, user: User, entity: str, entity_id: str, about: dict[str, Any]
) -> bool:
    """One ``contact.view`` audit row per user, entity and (Shanghai) day.

    Its own small unit of work: the page and the API read in a read-only session, and most
    views need no write at all. Returns whether a row was written."""
    now = clock.now()
    day_start = datetime.combine(now.astimezone(LOCAL_TZ).date(), time(), LOCAL_TZ)
    seen = select(AuditLog.id).where(
        AuditLog.entity == entity,
        AuditLog.entity_id == entity_id,
        AuditLog.action == CONTACT_VIEW,
        AuditLog.actor_id == user.id,
        AuditLog.at >= day_start,
    )
    with db.session(write=False) as session:
        if session.scalar(seen.limit(1)) is not None:
            return False
    with db.session() as session:
        record_audit(
            session,
            clock,
            Actor.of(user),
            CONTACT_VIEW,
            entity,
            entity_id,
            about,
        )
        session.commit()
    return True


def record_export(
    session: Session,
    clock: Clock,
    actor: Actor,
    what: str,
    count: int,
    masked: bool,
    filters: dict[str, Any] | None = None,
) -> None:
    """Every export of complaint or customer data leaves an audit row (call it in the export's
    transaction): what, how many rows, with which filters, and whether contacts were masked."""
    record_audit(
        session,
        clock,
        actor,
        EXPORT,
        what,
        "",
        {"rows": count, "masked": masked, "filters": filters or {}},
    )


def masked_cases(cases: list[Any]) -> list[Any]:
    """Similar cases (``triage.similar.SimilarCase``) with contact details in their texts masked."""
    return [
        replace(
            case,
            title=mask_text(case.title),
            solution=mask_text(case.solution) if case.solution else case.solution,
            result=mask_text(case.result) if case.result else case.result,
        )
        for case in cases
    ]


def masked_keywords(session: Session, result: Any, complaint: Complaint) -> None:
    """Drops from a stored triage result, for this view only, the keywords that are pieces of a
    phone number or email in the complaint (jieba splits ``wang@example.com`` into words)."""
    found = " ".join(
        m.group(0)
        for text in (complaint.title, complaint.content)
        for pattern in (PHONE_IN_TEXT, EMAIL_IN_TEXT)
        for m in pattern.finditer(text or "")
    ).lower()
    if not found:
        return
    session.expunge(result)  # a read session: the change must never be flushed
    result.keywords = [k for k in result.keywords if str(k[0]).lower() not in found]
