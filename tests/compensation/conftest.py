"""Ledger fixtures: approved requests made directly (the ledger's side of contract 2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kesu.accounts.models import User
from kesu.compensation import ledger
from kesu.compensation.models import (
    CompensationApproval,
    CompensationPayout,
    CompensationRequest,
)
from tests.flows import assign, create
from tests.notify.conftest import http_client, receiver  # noqa: F401  (fixtures: the webhook)


def approved(
    db: Any,
    clock: Any,
    amount: str = "199.00",
    method: str = "refund",
    assignee: str | None = "agent_a",
    approver: str | None = "lead_a",
    complaint_id: int | None = None,
) -> int:
    """A request approved now (by ``approver``, or as a fast claim when None) with its payout
    written by ``ledger.record_payout``, as flow's final approval does; returns its id."""
    if complaint_id is None:
        complaint_id = create(db, clock)
        if assignee:
            assign(db, clock, complaint_id, assignee)
    with db.session() as session:
        now = clock.now()
        request = CompensationRequest(
            complaint_id=complaint_id,
            method=method,
            amount=Decimal(amount),
            currency="CNY",
            status="approved",
            standard_version=1,
            created_at=now,
            decided_at=now,
        )
        session.add(request)
        session.flush()
        if approver:
            who = session.scalar(select(User).where(User.username == approver))
            assert who is not None
            session.add(
                CompensationApproval(
                    request_id=request.id,
                    step=1,
                    role=who.role,
                    approver_id=who.id,
                    decision="approved",
                    decided_at=now,
                )
            )
        else:  # the fast claim: a step approved by rule, as kesu.compensation.service adds
            session.add(
                CompensationApproval(
                    request_id=request.id,
                    step=1,
                    role="system",
                    decision="approved",
                    decided_at=now,
                )
            )
        session.flush()
        ledger.record_payout(session, clock, request)
        return request.id


def payout(db: Any, request_id: int) -> CompensationPayout:
    with db.session(write=False) as session:
        found = session.scalar(
            select(CompensationPayout).where(CompensationPayout.request_id == request_id)
        )
        assert found is not None
        return found
