"""Helpers: complaints of two teams in November 2026, a payout, tokens for the roles."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from kesu.accounts.models import Team, User
from kesu.analytics import rollups
from kesu.compensation.models import CompensationPayout, CompensationRequest
from kesu.complaints.models import Complaint
from tests.flows import assign, create, make_staff, move, worker
from tests.notify.test_outbox import smtp_server  # noqa: F401  (the fixture)
from tests.web.conftest import browser  # noqa: F401  (the fixture)

PEOPLE = {
    "agent_a": ("agent", "service"),
    "lead_a": ("team_lead", "service"),
    "agent_l": ("agent", "logistics"),
    "lead_l": ("team_lead", "logistics"),
    "manager_a": ("manager", None),
    "admin_a": ("admin", None),
}
NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))


def november(db: Any, settings: Any, clock: Any) -> dict[str, list[int]]:
    """Three complaints of team service (one taken to 执行整改 with measures), two of
    logistics, a refund approved for one of service's; the worker has run."""
    make_staff(db, clock, PEOPLE)
    made: dict[str, list[int]] = {"service": [], "logistics": []}
    for index in range(3):
        complaint_id = create(db, clock, channel="phone" if index else "web")
        assign(db, clock, complaint_id, "agent_a")
        made["service"].append(complaint_id)
    for _index in range(2):
        complaint_id = create(db, clock, product="扫地机器人 R2")
        assign(db, clock, complaint_id, "agent_l")
        made["logistics"].append(complaint_id)
    first = made["service"][0]
    move(db, clock, first, "investigating")
    move(db, clock, first, "proposing", findings="耳机左声道虚焊")
    move(db, clock, first, "confirming", solution="为您更换一副新耳机")
    move(db, clock, first, "rectifying")
    move(db, clock, first, "feedback", measures="加强出厂检测")
    with db.session() as session:
        complaint = session.get(Complaint, first)
        assert complaint is not None
        request = CompensationRequest(
            complaint_id=first,
            method="refund",
            amount=Decimal("199.00"),
            status="approved",
            created_at=clock.now(),
            decided_at=clock.now(),
        )
        session.add(request)
        session.flush()
        session.add(
            CompensationPayout(
                request_id=request.id,
                complaint_id=first,
                team_id=complaint.team_id,
                method="refund",
                amount=Decimal("199.00"),
                approved_at=clock.now(),
            )
        )
    worker(db, settings, clock).run_until_idle()
    rollups.catch_up_all(db, clock)  # the worker does it too, once kesu.analytics wires it
    return made


def team_id(db: Any, code: str) -> int:
    with db.session(write=False) as session:
        found = session.scalar(select(Team.id).where(Team.code == code))
        assert found is not None
        return int(found)


def token(db: Any, clock: Any, username: str) -> dict[str, str]:
    from kesu.accounts import service as accounts

    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        secret = accounts.create_token(session, clock, accounts.SYSTEM, user)
    return {"Authorization": f"Bearer {secret}"}


def sheets(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}
