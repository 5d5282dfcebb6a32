"""`kesu demo` shows compensation requests alive: one in the customer-service lead's queue, a
fast claim, an approved and a rejected request, a joint review half-way."""

from __future__ import annotations

from sqlalchemy import select

from kesu.accounts.models import User
from kesu.compensation import service
from kesu.compensation.models import CompensationPayout, CompensationRequest
from kesu.db import Database
from kesu.notify.models import Notification
from tests.test_demo_alive import demo_db

__all__ = ["demo_db"]


def test_the_demo_has_pending_approved_rejected_requests(demo_db: Database) -> None:
    with demo_db.session(write=False) as session:
        rows = list(session.scalars(select(CompensationRequest).order_by(CompensationRequest.id)))
        shown = [(r.chain, r.status) for r in rows]
        assert shown[-5:] == [
            ("chain", "pending"),
            ("fast", "paid"),  # the ledger's demo pays the oldest payout (DEMO-PAY-0001)
            ("chain", "approved"),
            ("chain", "rejected"),
            ("joint", "pending"),
        ]
        lead = session.scalar(select(User).where(User.username == "lead_service"))
        assert lead is not None and [r.id for r in service.queue(session, lead)] == [rows[-5].id]
        logistics = session.scalar(select(User).where(User.username == "lead_logistics"))
        assert logistics is not None and rows[-1] in service.queue(session, logistics)
        assert session.scalar(
            select(Notification).where(
                Notification.user_id == lead.id, Notification.event == "compensation_pending"
            )
        )
        paid = {p.request_id for p in session.scalars(select(CompensationPayout))}
        assert {rows[-4].id, rows[-3].id} <= paid and rows[-2].id not in paid
