"""Writing the timeline: every change to a complaint adds an event and an audit row."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.bulk import insert_rows
from kesu.clock import Clock
from kesu.complaints import events
from kesu.complaints.enums import Visibility
from kesu.complaints.models import Complaint, ComplaintEvent


def record(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    kind: str,
    *,
    body: str = "",
    public: bool = False,
    data: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
) -> ComplaintEvent:
    """Adds a timeline event (and, when ``audit`` is given, an audit row) for ``complaint``."""
    event = ComplaintEvent(
        complaint=complaint,  # works before the complaint's first flush too
        at=clock.now(),
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_label=actor.label,
        kind=kind,
        visibility=Visibility.public if public else Visibility.internal,
        body=body,
        data=data or {},
    )
    session.add(event)
    events.publish(session, clock, complaint, event)
    if audit is not None:
        record_audit(
            session, clock, actor, f"complaint.{kind}", "complaint", complaint.number, audit
        )
    return event


def record_many(
    session: Session,
    clock: Clock,
    actor: Actor,
    entries: list[tuple[Complaint, str, str, dict[str, Any]]],
) -> None:
    """Many internal events at once — ``(complaint, kind, body, data)`` — written with a few
    multi-row INSERTs (the worker announces a thousand SLA alerts in one pass). Each event is
    published to the listeners like ``record``'s. No audit rows: these events change no data
    (an alert crossed is recorded here and in ``sla_alerts``)."""
    if not entries:
        return
    now = clock.now()
    rows = []
    for complaint, kind, body, data in entries:
        event = ComplaintEvent(
            complaint_id=complaint.id,
            at=now,
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            actor_label=actor.label,
            kind=kind,
            visibility=Visibility.internal,
            body=body,
            data=data,
        )
        rows.append({c: getattr(event, c) for c in _EVENT_COLUMNS})
        events.publish(session, clock, complaint, event)
    insert_rows(session, cast(Table, ComplaintEvent.__table__), rows)


_EVENT_COLUMNS = (
    "complaint_id",
    "at",
    "actor_kind",
    "actor_id",
    "actor_label",
    "kind",
    "visibility",
    "body",
    "data",
)
