"""In-transaction listeners for complaint events (routing rules, SLA clocks, notifications).

``timeline.record`` publishes every event it writes. Listeners run inside the same transaction
as the change, so whatever they write (timers, outbox rows, assignments) commits or rolls back
with it. They must not do I/O: side effects go to the outbox. Other domains subscribe in
``kesu.wiring.install()``, which runs once on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from kesu.clock import Clock

if TYPE_CHECKING:
    from kesu.complaints.models import Complaint, ComplaintEvent

Listener = Callable[[Session, Clock, "Complaint", "ComplaintEvent"], None]

_listeners: list[Listener] = []
_installed = False


def subscribe(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def publish(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    global _installed
    if not _installed:
        _installed = True
        from kesu import wiring

        wiring.install()
    for listener in list(_listeners):
        listener(session, clock, complaint, event)
