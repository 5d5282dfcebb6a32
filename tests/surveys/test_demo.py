"""`kesu demo` shows surveys alive: a good answer (archived, the agent credited), a low one
(reopened, the lead notified), and an open survey whose message waits in the outbox."""

from __future__ import annotations

from sqlalchemy import select

from kesu.db import Database
from kesu.notify.models import Notification, OutboxMessage
from kesu.surveys import service
from kesu.surveys.models import Survey
from tests.test_demo_alive import demo_db

__all__ = ["demo_db"]


def test_the_demo_has_good_low_and_open_surveys(demo_db: Database) -> None:
    with demo_db.session(write=False) as session:
        rows = list(session.scalars(select(Survey).order_by(Survey.id)))
        assert [(s.status, s.outcome) for s in rows] == [
            ("answered", "good"),
            ("answered", "low"),
            ("sent", ""),
        ]
        good, low, waiting = rows
        assert good.complaint.stage == "archived"
        assert low.complaint.stage == "investigating" and low.complaint.reopen_count == 1
        assert session.scalar(select(Notification).where(Notification.event == "survey_low"))
        assert service.points_by_agent(session)[0].points == good.points > 0
        sent = session.scalars(
            select(OutboxMessage).where(OutboxMessage.event == "customer.survey")
        ).all()
        assert any(f"/s/{waiting.token}" in m.body for m in sent)
