"""Erasing a customer's personal data (PIPL), on request or after the retention period.

What goes: the customer's name, phone, email and external id — on the customer row and on every
complaint's snapshot — and those values (and any phone number or email) wherever they appear in
the complaints' texts, stage outputs, custom fields, timeline messages and the customer's audit
rows. What stays: each complaint's category, dates, stage, severity, channel and team, so the
statistics do not change. The audit row of the erasure names the customer id, never the values.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import AuditLog
from kesu.accounts.service import SYSTEM, Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.enums import ActorKind, EventKind
from kesu.complaints.models import Complaint, ComplaintEvent, Customer
from kesu.errors import Conflict
from kesu.privacy.masking import EMAIL_IN_TEXT, ERASED, PHONE_IN_TEXT, scrub_json, scrub_text
from kesu.triage import similar
from kesu.triage.models import TriageResult
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

RETENTION_REASON = N_("保存期限已过，自动匿名化")
# Stored as the source text (like the other timeline bodies); shown in the reader's language.
ANONYMIZED = N_("客户个人信息已删除（匿名化）")


def anonymize_customer(
    session: Session, clock: Clock, actor: Actor, customer: Customer, reason: str
) -> int:
    """Erases ``customer``'s personal data everywhere; returns how many complaints were touched."""
    if customer.anonymized_at is not None:
        raise Conflict(_("该客户的资料已经匿名化"), field="id", code="already_anonymized")
    complaints = list(
        session.scalars(
            select(Complaint).where(Complaint.customer_id == customer.id).order_by(Complaint.id)
        )
    )
    values = _known_values(customer, complaints)
    now = clock.now()
    customer.name = ""
    customer.phone = None
    customer.email = None
    customer.external_id = None
    customer.anonymized_at = now
    customer.updated_at = now
    for complaint in complaints:
        _scrub_keywords(session, complaint, values)
        _scrub_complaint(complaint, values)
        complaint.updated_at = now
        if complaint.merged_into_id is None and similar.is_indexed_stage(session, complaint.stage):
            similar.index_complaint(session, complaint)  # its terms came from the old text
    ids = [c.id for c in complaints]
    if ids:
        for event in session.scalars(
            select(ComplaintEvent).where(ComplaintEvent.complaint_id.in_(ids))
        ):
            event.body = scrub_text(event.body, values)
            event.data = scrub_json(event.data, values)
            if event.actor_kind == ActorKind.customer:
                event.actor_label = ERASED
    for row in session.scalars(
        select(AuditLog).where(
            AuditLog.entity == "customer", AuditLog.entity_id == str(customer.id)
        )
    ):
        row.changes = scrub_json(row.changes, values)
    for complaint in complaints:
        timeline.record(
            session,
            clock,
            actor,
            complaint,
            EventKind.customer_anonymized,
            body=ANONYMIZED,
            data={"customer_id": customer.id},
        )
    record_audit(
        session,
        clock,
        actor,
        "customer.anonymize",
        "customer",
        customer.id,
        {"reason": scrub_text(reason, values), "complaints": len(ids)},
    )
    return len(ids)


def _known_values(customer: Customer, complaints: list[Complaint]) -> list[str]:
    found = {customer.name, customer.phone, customer.email, customer.external_id}
    for c in complaints:
        found |= {c.contact_name, c.contact_phone, c.contact_email}
    return [v for v in found if v]


def _scrub_keywords(session: Session, complaint: Complaint, values: list[str]) -> None:
    """Triage's stored keywords of the complaint, without the pieces of the erased values or of
    any phone number or email in its text (jieba splits ``wang@example.com`` into words)."""
    stored = session.get(TriageResult, complaint.id)
    if stored is None or not stored.keywords:
        return
    secrets = [v.lower() for v in values]
    for text in (complaint.title, complaint.content):
        secrets += [m.group(0).lower() for m in EMAIL_IN_TEXT.finditer(text or "")]
        secrets += [m.group(0).lower() for m in PHONE_IN_TEXT.finditer(text or "")]
    stored.keywords = [
        k for k in stored.keywords if not any(str(k[0]).lower() in s for s in secrets)
    ]


def _scrub_complaint(complaint: Complaint, values: list[str]) -> None:
    complaint.contact_name = None
    complaint.contact_phone = None
    complaint.contact_email = None
    complaint.title = scrub_text(complaint.title, values)
    complaint.content = scrub_text(complaint.content, values)
    complaint.outputs = scrub_json(complaint.outputs or {}, values)
    complaint.custom_fields = scrub_json(complaint.custom_fields or {}, values)


def expired_customers(session: Session, cutoff: datetime, limit: int) -> list[int]:
    """Customers not yet anonymised whose complaints are all closed, the last before ``cutoff``."""
    last = func.max(func.coalesce(Complaint.closed_at, Complaint.updated_at))
    stmt = (
        select(Complaint.customer_id)
        .join(Customer, Customer.id == Complaint.customer_id)
        .where(Customer.anonymized_at.is_(None))
        .group_by(Complaint.customer_id)
        .having(func.sum(case((Complaint.is_open, 1), else_=0)) == 0, last < cutoff)
        .order_by(Complaint.customer_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def retention_cutoff(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def anonymize_expired(
    session: Session, clock: Clock, years: int, limit: int = 200, dry_run: bool = False
) -> list[int]:
    """Anonymises (up to ``limit``) customers past the retention period; returns their ids."""
    if years <= 0:
        return []
    ids = expired_customers(session, retention_cutoff(clock.now(), years), limit)
    if dry_run:
        return ids
    for customer_id in ids:
        customer = session.get(Customer, customer_id)
        if customer is not None:
            anonymize_customer(session, clock, SYSTEM, customer, RETENTION_REASON)
    return ids
