"""Messages to the customer about their complaint, on the channel it came from."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.complaints.models import Complaint, ComplaintEvent


def on_event(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    """Enqueues the customer's message for the events they are told about."""
    return None
