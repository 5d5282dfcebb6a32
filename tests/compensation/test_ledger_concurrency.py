"""On PostgreSQL, payouts approved at the same moment: a budget threshold they cross together
is announced exactly once; two paid callbacks with different references: one wins."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from kesu.accounts.service import SYSTEM
from kesu.compensation import ledger
from kesu.compensation.models import CompensationRequest
from kesu.errors import Conflict
from kesu.notify.models import Notification
from tests.compensation.conftest import approved, payout
from tests.flows import assign, create, make_staff

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def _request(db: Any, clock: Any, amount: str) -> int:
    complaint_id = create(db, clock)
    assign(db, clock, complaint_id, "agent_a")
    with db.session() as session:
        request = CompensationRequest(
            complaint_id=complaint_id,
            method="cash",
            amount=Decimal(amount),
            status="approved",
            created_at=clock.now(),
        )
        session.add(request)
        session.flush()
        return request.id


def test_a_threshold_crossed_by_two_payouts_at_once_warns_once(db, clock, monkeypatch):
    make_staff(db, clock)
    with db.session() as session:
        team = ledger.team_by_code(session, "service")
        ledger.set_budget(session, clock, SYSTEM, "2026-11", team, Decimal("1000"))
    approved(db, clock, "700.00")
    ids = [_request(db, clock, "50.00"), _request(db, clock, "50.00")]
    both_written = threading.Barrier(2, timeout=10)
    original = ledger.check_budgets

    def after_both(*args: Any) -> None:
        both_written.wait()  # each payout is inserted, neither committed: then sum
        original(*args)

    monkeypatch.setattr(ledger, "check_budgets", after_both)
    errors: list[BaseException] = []

    def approve(request_id: int) -> None:
        try:
            with db.session() as session:
                request = session.get(CompensationRequest, request_id)
                assert request is not None
                ledger.record_payout(session, clock, request)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    with db.session(write=False) as session:
        assert ledger.used_of(session, "2026-11", team.id) == Decimal("800.00")
        warned = session.scalar(
            select(func.count(Notification.id)).where(Notification.event == ledger.BUDGET_EVENT)
        )
        assert warned == 1  # manager_a, once


def test_two_paid_callbacks_with_different_references_one_wins(db, clock):
    make_staff(db, clock)
    request_id = approved(db, clock, "10.00")
    start = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def pay(reference: str) -> None:
        start.wait()
        try:
            with db.session() as session:
                ledger.mark_paid(session, clock, SYSTEM, request_id, reference)
            outcomes.append("paid")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=pay, args=(r,)) for r in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "paid"]
    assert payout(db, request_id).paid_reference in ("A", "B")
