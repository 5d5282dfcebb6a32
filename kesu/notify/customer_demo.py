"""`kesu demo`: complaints whose customers hear from kesu, so the outbox shows customer
messages (an acknowledgement, a staff reply, a solution waiting for confirmation, in Chinese
and English), made through the ordinary services and the listener."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.accounts import service as accounts
from kesu.clock import Clock
from kesu.complaints import lifecycle, registration, service
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database
from kesu.notify.models import OutboxMessage

_COMPLAINTS = (
    {
        "channel": "email",
        "customer": {"name": "周晓红", "email": "zhou.xiaohong@example.com"},
        "content": "上周买的电饭煲内胆涂层脱落，要求换货。",
        "product": "电饭煲 R5",
    },
    {
        "channel": "web",
        "locale": "en",
        "customer": {"name": "Emma Clark", "email": "emma.clark@example.com"},
        "content": "The blender I ordered arrived with a cracked jug. I would like a refund.",
        "product": "Blender B2",
    },
)


def show(db: Database, clock: Clock) -> int:
    """Registers the demo's customer-facing complaints; returns the customer messages queued."""
    with db.session() as session:
        made = []
        for spec in _COMPLAINTS:
            data = ComplaintCreate.model_validate(spec)
            complaint, _replayed = registration.create_complaint(
                session, clock, accounts.SYSTEM, data
            )
            made.append(complaint)
        first, second = made
        service.add_note(
            session,
            clock,
            accounts.SYSTEM,
            first,
            "您好，已为您登记换货，新内胆三天内寄出。",
            public=True,
        )
        for stage, outputs in (
            ("investigating", {}),
            ("proposing", {"findings": "Jug cracked in transit."}),
            ("confirming", {"solution": "A full refund, and a free replacement jug."}),
        ):
            lifecycle.transition(session, clock, accounts.SYSTEM, second, stage, None, outputs)
        session.flush()
        count = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.event.like("customer.%"))
        )
        session.commit()
    return int(count or 0)
