"""Helpers for routing, SLA, notification and worker tests: staff with addresses, complaints
made through the services, the worker run with a frozen clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.clock import FrozenClock
from kesu.complaints import lifecycle, registration, service
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.complaints.schemas import ComplaintCreate
from kesu.config import Settings
from kesu.db import Database
from kesu.notify.models import Notification, OutboxMessage
from kesu.sla.models import SlaAlert, SlaClock
from kesu.worker import Worker

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAFF = {
    "agent_a": ("agent", "service"),
    "lead_a": ("team_lead", "service"),
    "manager_a": ("manager", None),
    "exec_a": ("executive", None),
}


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def make_staff(db: Database, clock: FrozenClock, people: dict[str, Any] | None = None) -> None:
    with db.session() as session:
        for username, (role, team) in (people or STAFF).items():
            accounts.create_user(
                session,
                clock,
                accounts.SYSTEM,
                username=username,
                password="password-123",
                role=role,
                team_code=team,
                email=f"{username}@example.com",
                phone="13900000000",
            )


def create(db: Database, clock: FrozenClock, **overrides: Any) -> int:
    body: dict[str, Any] = {
        "channel": "api",
        "customer": {"name": "王小明", "phone": "13800138000", "region": "上海"},
        "content": "收到的耳机左耳没有声音，申请换货。",
        "product": "降噪耳机 X1",
    }
    body.update(overrides)
    with db.session() as session:
        complaint, _ = registration.create_complaint(
            session, clock, accounts.SYSTEM, ComplaintCreate.model_validate(body)
        )
        session.flush()
        return complaint.id


def user(db: Database, username: str) -> User:
    with db.session(write=False) as session:
        found = session.scalar(select(User).where(User.username == username))
        assert found is not None
        return found


def actor(db: Database, username: str) -> accounts.Actor:
    return accounts.Actor.of(user(db, username))


def assign(db: Database, clock: FrozenClock, complaint_id: int, username: str) -> None:
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assignee = session.scalar(select(User).where(User.username == username))
        assert complaint is not None and assignee is not None
        service.assign(
            session,
            clock,
            accounts.Actor("system", None, "测试"),
            complaint,
            version=complaint.version,
            team=None,
            assignee=assignee,
            reason="测试",
        )


def move(db: Database, clock: FrozenClock, complaint_id: int, to: str, **outputs: str) -> None:
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        lifecycle.transition(
            session, clock, accounts.Actor("system", None, "测试"), complaint, to, None, outputs
        )


def note(db: Database, clock: FrozenClock, complaint_id: int, public: bool, who: str) -> None:
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        staff = session.scalar(select(User).where(User.username == who))
        assert staff is not None
        service.add_note(session, clock, accounts.Actor.of(staff), complaint, "您好", public)


def worker(
    db: Database, settings: Settings, clock: FrozenClock, http: httpx.Client | None = None
) -> Worker:
    return Worker(db, settings, clock=clock, http=http or httpx.Client(trust_env=False))


def clocks(db: Database, complaint_id: int) -> dict[str, SlaClock]:
    """Every clock of the complaint, stored or latent (kesu.sla.service.derive), as of its
    last change; ``stored_clocks`` for the rows alone."""
    from kesu.sla.service import derive

    with db.session(write=False) as session:
        found = session.get(Complaint, complaint_id)
        assert found is not None
        rows = derive(session, found, found.updated_at)
        return {f"{r.milestone}" + (f"#{r.cycle}" if r.cycle else ""): r for r in rows}


def stored_clocks(db: Database, complaint_id: int) -> dict[str, SlaClock]:
    with db.session(write=False) as session:
        rows = session.scalars(
            select(SlaClock).where(SlaClock.complaint_id == complaint_id).order_by(SlaClock.cycle)
        )
        return {f"{r.milestone}" + (f"#{r.cycle}" if r.cycle else ""): r for r in rows}


def alerts(db: Database, complaint_id: int) -> list[tuple[str, int]]:
    with db.session(write=False) as session:
        rows = session.scalars(
            select(SlaAlert).where(SlaAlert.complaint_id == complaint_id).order_by(SlaAlert.id)
        )
        return [(r.kind, r.level) for r in rows]


def complaint(db: Database, complaint_id: int) -> Complaint:
    with db.session(write=False) as session:
        found = session.get(Complaint, complaint_id)
        assert found is not None
        return found


def events(db: Database, complaint_id: int) -> list[ComplaintEvent]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(ComplaintEvent)
                .where(ComplaintEvent.complaint_id == complaint_id)
                .order_by(ComplaintEvent.id)
            )
        )


def notified(db: Database, username: str) -> list[str]:
    """The events of the in-app notifications a user received, in order."""
    staff = user(db, username)
    with db.session(write=False) as session:
        rows = session.scalars(
            select(Notification).where(Notification.user_id == staff.id).order_by(Notification.id)
        )
        return [n.event for n in rows]


def outbox(db: Database, **where: Any) -> list[OutboxMessage]:
    with db.session(write=False) as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, key) == value)
        return list(session.scalars(stmt))
