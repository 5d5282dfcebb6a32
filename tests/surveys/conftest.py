"""Helpers: a complaint taken to 满意度评价 through the ordinary lifecycle, its surveys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kesu.surveys.models import Survey
from tests.flows import assign, create, make_staff, move
from tests.notify.conftest import http_client, receiver  # noqa: F401  (fixtures)
from tests.notify.test_outbox import smtp_server  # noqa: F401  (the fixture)
from tests.web.conftest import browser  # noqa: F401  (the fixture)

EMAIL_CUSTOMER = {"name": "王小明", "email": "xiaoming@example.com"}


def to_rating(db: Any, clock: Any, complaint_id: int) -> None:
    """受理登记 → … → 满意度评价, every required output written."""
    move(db, clock, complaint_id, "investigating")
    move(db, clock, complaint_id, "proposing", findings="耳机左声道虚焊")
    move(db, clock, complaint_id, "confirming", solution="为您更换一副新耳机")
    move(db, clock, complaint_id, "rectifying")
    move(db, clock, complaint_id, "feedback", measures="加强出厂检测")
    move(db, clock, complaint_id, "rating", result="已为您换货，新耳机已寄出")


def resolved(db: Any, clock: Any, staff: bool = True, **overrides: Any) -> int:
    """A complaint handled by agent_a (team service, lead lead_a), now at 满意度评价."""
    if staff:
        make_staff(db, clock)
    complaint_id = create(db, clock, **overrides)
    assign(db, clock, complaint_id, "agent_a")
    to_rating(db, clock, complaint_id)
    return complaint_id


def surveys(db: Any, complaint_id: int) -> list[Survey]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(Survey).where(Survey.complaint_id == complaint_id).order_by(Survey.round)
            )
        )


GOOD = {"timeliness": 5, "solution": 4, "attitude": 5, "nps": 9, "comment": "很快就解决了"}
LOW = {"timeliness": 2, "solution": 4, "attitude": 5, "nps": 3, "comment": "等了太久"}
