"""Opening an incident (重大投诉 / 危机事件) or joining the open one of the same category."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.models import Complaint
from kesu.errors import Conflict, InvalidInput
from kesu.incidents.models import Incident, IncidentComplaint
from kesu.notify.recipients import Directory
from kesu.notify.service import Notice, notify
from kesu.web.i18n import gettext as _

WINDOW = timedelta(hours=24)
MAX_NOTE = 5000
MAX_LINKED_AT_OPEN = 500


def open_or_join(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    title: str | None,
    rule_id: int | None = None,
) -> tuple[Incident | None, bool]:
    """Links ``complaint`` to the open incident of its category, or opens one (with the
    category's complaints of the last 24 hours). Returns (incident, opened now); (None, False)
    when the complaint already belongs to it."""
    if complaint.id is None:
        session.flush()
    now = clock.now()
    category = complaint.category
    incident = session.scalar(
        select(Incident)
        .where(
            Incident.status == "open",
            Incident.category_id == (category.id if category else None),
        )
        .order_by(Incident.id)
        .limit(1)
    )
    if incident is not None:
        if session.get(IncidentComplaint, (incident.id, complaint.id)) is not None:
            return None, False
        session.add(
            IncidentComplaint(incident_id=incident.id, complaint_id=complaint.id, linked_at=now)
        )
        _record(session, clock, actor, complaint, incident, "incident_linked", "关联应急事件")
        return incident, False
    name = title or (f"批量投诉：{category.path}" if category else f"应急事件：{complaint.title}")
    incident = Incident(
        title=name[:200],
        category_id=category.id if category else None,
        severity="serious",
        status="open",
        summary="",
        opened_by=actor.label,
        rule_id=rule_id,
        opened_at=now,
    )
    session.add(incident)
    session.flush()
    linked = {complaint.id}
    if category is not None:
        linked.update(
            session.scalars(
                select(Complaint.id)
                .where(Complaint.category_id == category.id, Complaint.received_at >= now - WINDOW)
                # The newest by the (category_id, received_at) index: a range of the window,
                # never a walk down the whole category (ordering by id alone did that).
                .order_by(Complaint.received_at.desc(), Complaint.id.desc())
                .limit(MAX_LINKED_AT_OPEN)
            )
        )
    for complaint_id in sorted(linked):
        session.add(
            IncidentComplaint(incident_id=incident.id, complaint_id=complaint_id, linked_at=now)
        )
    _record(session, clock, actor, complaint, incident, "incident_opened", "启动应急事件")
    directory = Directory(session)
    people = directory.for_level(complaint, 2) + directory.for_level(complaint, 3)
    notice = Notice(
        event="incident_opened",
        complaint=complaint,
        key=f"incident:{incident.id}",
        extra={"incident": incident.title, "count": len(linked)},
        urgent=True,
    )
    notify(session, clock, notice, people)
    return incident, True


def _record(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    incident: Incident,
    kind: str,
    verb: str,
) -> None:
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        kind,
        body=f"{verb}「{incident.title}」",
        data={"incident": incident.id},
        audit={"incident": incident.id},
    )


def incident_out(session: Session, incident: Incident) -> dict[str, Any]:
    count = session.scalar(
        select(func.count())
        .select_from(IncidentComplaint)
        .where(IncidentComplaint.incident_id == incident.id)
    )
    return {
        "id": incident.id,
        "title": incident.title,
        "category_id": incident.category_id,
        "severity": incident.severity,
        "status": incident.status,
        "summary": incident.summary,
        "opened_by": incident.opened_by,
        "rule_id": incident.rule_id,
        "opened_at": incident.opened_at,
        "closed_at": incident.closed_at,
        "closed_by": incident.closed_by,
        "close_note": incident.close_note,
        "complaints": count or 0,
    }


def incidents(session: Session, status: str | None, limit: int = 200) -> list[tuple[Incident, int]]:
    """Incidents, newest first, each with its number of linked complaints (one query)."""
    count = (
        select(func.count())
        .select_from(IncidentComplaint)
        .where(IncidentComplaint.incident_id == Incident.id)
        .scalar_subquery()
    )
    stmt = select(Incident, count).order_by(Incident.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Incident.status == status)
    return [(row[0], row[1] or 0) for row in session.execute(stmt)]


def linked(session: Session, incident: Incident, limit: int = 500) -> list[Complaint]:
    """The incident's complaints, newest first."""
    return list(
        session.scalars(
            select(Complaint)
            .join(IncidentComplaint, IncidentComplaint.complaint_id == Complaint.id)
            .where(IncidentComplaint.incident_id == incident.id)
            .order_by(Complaint.id.desc())
            .limit(limit)
        )
    )


def close_incident(
    session: Session, clock: Clock, actor: Actor, incident: Incident, note: str
) -> Incident:
    """Closes an open incident with a note (what was done); audited. Later complaints of the
    category open a new incident."""
    if incident.status != "open":
        raise Conflict(_("应急事件已关闭"), code="incident_closed")
    if not note.strip():
        raise InvalidInput(_("请填写关闭说明"), field="note")
    if len(note) > MAX_NOTE:
        raise InvalidInput(_("关闭说明太长（最多 5000 字）"), field="note")
    incident.status = "closed"
    incident.closed_at = clock.now()
    incident.closed_by = actor.label
    incident.close_note = note.strip()
    record_audit(
        session, clock, actor, "incident.closed", "incident", str(incident.id), {"note": note}
    )
    return incident
