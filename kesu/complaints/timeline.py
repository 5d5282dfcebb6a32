"""Writing the timeline: every change to a complaint adds an event and an audit row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
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
