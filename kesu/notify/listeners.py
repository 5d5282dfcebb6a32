"""Notifications that follow complaint events directly (the rest come from rules and SLA)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.notify.service import Notice, notify


def on_event(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    """A complaint assigned to someone tells them (unless they took it themselves)."""
    if event.kind != "assigned" or complaint.assignee is None:
        return
    if event.actor_id == complaint.assignee.id:
        return
    from kesu.sla.service import standard_calendar

    notice = Notice(
        event="assigned",
        complaint=complaint,
        quiet_calendar=standard_calendar(session),
        endpoints=False,
    )
    notify(session, clock, notice, [complaint.assignee])
