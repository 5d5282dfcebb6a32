"""Two approvers deciding the same request at once, on PostgreSQL (each a thread with its own
engine, released together by a barrier): one decision and one payout, never two."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.compensation import service
from kesu.compensation.models import CompensationApproval, CompensationRequest
from kesu.complaints.models import Complaint
from kesu.db import Database
from kesu.errors import KesuError
from tests.compensation.flow_helpers import complaint, payouts, staff


def _request(db: Database, clock: Any, cid: int, amount: str) -> int:
    with db.session() as session:
        agent = session.scalar(select(User).where(User.username == "agent_a"))
        found = session.get(Complaint, cid)
        assert agent is not None and found is not None
        req = service.request(
            session, clock, accounts.Actor.of(agent), found, "cash", amount, "并发测试"
        )
        session.flush()
        return req.id


def _race(db: Database, clock: Any, rid: int, usernames: list[str]) -> list[str]:
    """Each user decides ``rid`` in a thread of its own; returns each outcome."""
    barrier = threading.Barrier(len(usernames))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(username: str) -> None:
        database = Database(db.url)
        try:
            with database.session(write=False) as session:
                user = session.scalar(select(User).where(User.username == username))
                assert user is not None
                session.expunge(user)
            barrier.wait()
            try:
                with database.session() as session:
                    req = service.decide(session, clock, user, rid, "approve", "")
                    outcome = req.status
            except KesuError as exc:
                outcome = f"{exc.status_code}:{exc.code}"
            except Exception as exc:
                outcome = f"error:{type(exc).__name__}:{exc}"
            with lock:
                outcomes.append(outcome)
        finally:
            database.dispose()

    threads = [threading.Thread(target=run, args=(u,)) for u in usernames]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(outcomes)


@pytest.fixture
def pg_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row locks under concurrency: PostgreSQL (SQLite serialises writers)")


@pytest.mark.usefixtures("pg_only")
def test_two_leads_approve_the_same_step_at_once(db: Any, clock: Any) -> None:
    staff(db, clock, "agent_a", "lead_a")
    with db.session() as session:
        accounts.create_user(
            session,
            clock,
            accounts.SYSTEM,
            username="lead_a2",
            password="password-123",
            role="team_lead",
            team_code="service",
        )
    cid = complaint(db, clock)
    rid = _request(db, clock, cid, "300.00")
    outcomes = _race(db, clock, rid, ["lead_a", "lead_a2"])
    assert outcomes == ["409:decided", "approved"], outcomes
    assert len(payouts(db, rid)) == 1
    with db.session(write=False) as session:
        [step] = session.scalars(
            select(CompensationApproval).where(CompensationApproval.request_id == rid)
        )
        assert step.decision == "approved" and step.approver_id is not None
        assert session.get(CompensationRequest, rid).status == "approved"


@pytest.mark.usefixtures("pg_only")
def test_the_last_two_departments_at_once_pay_once(db: Any, clock: Any) -> None:
    staff(db, clock, "agent_a", "lead_q", "lead_l", "lead_f")
    cid = complaint(db, clock)
    rid = _request(db, clock, cid, "20000.00")
    assert _race(db, clock, rid, ["lead_q"]) == ["pending"]
    outcomes = _race(db, clock, rid, ["lead_l", "lead_f"])
    assert outcomes == ["approved", "pending"], outcomes  # both count; the second one pays
    assert len(payouts(db, rid)) == 1


@pytest.mark.usefixtures("pg_only")
def test_a_double_click_decides_once(db: Any, clock: Any) -> None:
    staff(db, clock, "agent_a", "lead_a")
    cid = complaint(db, clock)
    rid = _request(db, clock, cid, "300.00")
    outcomes = _race(db, clock, rid, ["lead_a", "lead_a"])
    assert outcomes == ["409:decided", "approved"], outcomes
    assert len(payouts(db, rid)) == 1
