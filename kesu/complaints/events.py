"""In-transaction listeners for complaint events (routing rules, SLA clocks, notifications).

``timeline.record`` publishes every event it writes. Listeners run inside the same transaction
as the change, so whatever they write (timers, outbox rows, assignments) commits or rolls back
with it. They must not do I/O: side effects go to the outbox. Other domains subscribe in
``kesu.wiring.install()``, which runs once on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from kesu.clock import Clock

if TYPE_CHECKING:
    from kesu.complaints.models import Complaint, ComplaintEvent
    from kesu.db import Database

Listener = Callable[[Session, Clock, "Complaint", "ComplaintEvent"], None]
# Work a listener can do on a new complaint's text before the write transaction starts
# (classifying it, say): ``(db, title, content) → (key, result)``. Registration passes the
# results to the listeners in ``session.info[PREPARED]``, so the write lock is held less long.
Preparer = Callable[["Database", str, str], tuple[str, Any]]
PREPARED = "kesu.intake_prepared"

_listeners: list[Listener] = []
_preparers: list[Preparer] = []
_installed = False


def subscribe(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def subscribe_preparer(preparer: Preparer) -> None:
    if preparer not in _preparers:
        _preparers.append(preparer)


def _install() -> None:
    global _installed
    if not _installed:
        _installed = True
        from kesu import wiring

        wiring.install()


def prepare(db: Database, title: str, content: str) -> dict[str, Any]:
    """Runs the preparers outside any transaction; their results by key."""
    _install()
    return dict(preparer(db, title, content) for preparer in list(_preparers))


def publish(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    _install()
    for listener in list(_listeners):
        listener(session, clock, complaint, event)
