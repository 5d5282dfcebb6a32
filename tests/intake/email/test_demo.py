"""The demo's mailbox and sample mails go through the real intake."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.config import Settings
from kesu.intake.email import demo
from kesu.intake.email.models import Mailbox


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_demo_seed(db, clock, backend):
    settings = Settings(database_url=db.url, environment="test")
    assert demo.seed(db, clock, settings) == {"complaint": 2, "reply": 1, "ignored": 1}
    assert demo.seed(db, clock, settings) == {}  # idempotent
    with db.session(write=False) as session:
        [box] = session.scalars(select(Mailbox))
        assert not box.is_active and box.password_encrypted == ""
        rows = list(session.scalars(select(Complaint).where(Complaint.channel == "email")))
        assert [c.title for c in rows] == ["买的空气净化器有异响", "快递没有送货上门"]
        kinds = session.scalars(
            select(ComplaintEvent.kind).where(ComplaintEvent.complaint_id == rows[0].id)
        )
        assert "customer_message" in set(kinds)
