"""Hand-built rows for the KPI tests: complaints, clocks, alerts, surveys and payouts written
straight into the tables (the numbers are what matter here, not the paths that make them)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.clock import Clock
from kesu.complaints.models import Complaint, ComplaintEvent, Customer
from kesu.sla.models import SlaAlert, SlaClock
from kesu.surveys.models import Survey
from kesu.taxonomy.models import Category


def team_id(session: Session, code: str) -> int:
    found = session.scalar(select(Team.id).where(Team.code == code))
    assert found is not None
    return found


def category(session: Session, path: str) -> Category:
    found = session.scalar(select(Category).where(Category.path == path))
    assert found is not None, path
    return found


def leaves(session: Session) -> list[Category]:
    parents = set(
        session.scalars(select(Category.parent_id).where(Category.parent_id.is_not(None)))
    )
    return list(
        session.scalars(select(Category).where(Category.id.not_in(parents)).order_by(Category.id))
    )


def customer(session: Session, clock: Clock, region: str | None = "上海") -> Customer:
    row = Customer(name="客户", region=region, created_at=clock.now(), updated_at=clock.now())
    session.add(row)
    session.flush()
    return row


def complaint(
    session: Session,
    clock: Clock,
    received: datetime,
    *,
    who: Customer | None = None,
    channel: str = "phone",
    category_id: int | None = None,
    team: int | None = None,
    handler: int | None = None,
    product: str | None = "降噪耳机 X1",
    resolved: datetime | None = None,
    reopen_count: int = 0,
    repeat_of: int | None = None,
    merged_into: int | None = None,
) -> Complaint:
    who = who or customer(session, clock)
    row = Complaint(
        number=f"T{secrets.token_hex(6)}",
        title="t",
        content="c",
        channel=channel,
        customer_id=who.id,
        product=product,
        category_id=category_id,
        stage="archived" if resolved else "registered",
        stage_entered_at=resolved or received,
        is_open=resolved is None,
        team_id=team,
        assignee_id=handler,
        tracking_token=secrets.token_urlsafe(16),
        received_at=received,
        resolved_at=resolved,
        created_at=received,
        updated_at=received,
        reopen_count=reopen_count,
        repeat_of_id=repeat_of,
        merged_into_id=merged_into,
    )
    session.add(row)
    session.flush()
    event(session, row.id, received)
    return row


def event(session: Session, complaint_id: int, at: datetime, kind: str = "updated") -> None:
    session.add(
        ComplaintEvent(complaint_id=complaint_id, at=at, actor_kind="system", kind=kind, data={})
    )
    session.flush()


def first_response(
    session: Session,
    c: Complaint,
    *,
    minutes: int = 60,
    met_after: int | None = None,
    breached: bool = False,
    milestone: str = "first_response",
) -> SlaClock:
    due = c.received_at + timedelta(minutes=minutes)
    met = c.received_at + timedelta(minutes=met_after) if met_after is not None else None
    row = SlaClock(
        complaint_id=c.id,
        milestone=milestone,
        cycle=0,
        calendar_code="standard",
        target_minutes=minutes,
        started_at=c.received_at,
        status="met" if met else "running",
        due_at=due,
        met_at=met,
        breached=breached,
        updated_at=c.received_at,
    )
    session.add(row)
    session.flush()
    return row


def alert(session: Session, c: Complaint, kind: str, level: int) -> None:
    session.add(
        SlaAlert(
            complaint_id=c.id,
            kind=kind,
            deadline=c.received_at,
            level=level,
            fired_at=c.received_at,
        )
    )
    session.flush()


def survey(
    session: Session, c: Complaint, scores: tuple[int, int, int], nps: int, round: int = 1
) -> None:
    at = c.received_at
    session.add(
        Survey(
            complaint_id=c.id,
            round=round,
            token=secrets.token_urlsafe(16),
            status="answered",
            created_at=at,
            send_at=at,
            expires_at=at + timedelta(days=7),
            answered_at=at + timedelta(days=1),
            timeliness=scores[0],
            solution=scores[1],
            attitude=scores[2],
            nps=nps,
            outcome="good",
        )
    )
    session.flush()


def payout(
    session: Session, c: Complaint, amount: str, approved: datetime, team: int | None
) -> None:
    from kesu.compensation.models import CompensationPayout, CompensationRequest

    request = CompensationRequest(
        complaint_id=c.id,
        method="refund",
        amount=Decimal(amount),
        status="approved",
        created_at=approved,
    )
    session.add(request)
    session.flush()
    session.add(
        CompensationPayout(
            request_id=request.id,
            complaint_id=c.id,
            team_id=team,
            method="refund",
            amount=Decimal(amount),
            approved_at=approved,
        )
    )
    session.flush()


def first_user_id(session: Session) -> Any:
    return session.scalar(select(User.id).order_by(User.id).limit(1))
