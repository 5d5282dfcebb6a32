"""Helpers of the request/approval tests: the approvers of every tier, a complaint of team
service handled by agent_a, requests and decisions through the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.clock import FrozenClock
from kesu.compensation.models import CompensationPayout, CompensationRequest
from kesu.db import Database
from tests.flows import assign, create

PEOPLE = {
    "agent_a": ("agent", "service"),
    "agent_b": ("agent", "service"),
    "lead_a": ("team_lead", "service"),
    "lead_x": ("team_lead", "engineering"),  # a lead of another team
    "manager_a": ("manager", None),
    "fin_a": ("finance_approver", None),
    "lead_q": ("team_lead", "quality"),
    "lead_l": ("team_lead", "logistics"),
    "lead_f": ("team_lead", "finance"),
    "admin_a": ("admin", None),
}


def staff(db: Database, clock: FrozenClock, *only: str) -> dict[str, dict[str, str]]:
    """Creates PEOPLE (or ``only`` those); returns each one's Bearer headers."""
    headers: dict[str, dict[str, str]] = {}
    with db.session() as session:
        for username, (role, team) in PEOPLE.items():
            if only and username not in only:
                continue
            user = accounts.create_user(
                session,
                clock,
                accounts.SYSTEM,
                username=username,
                password="password-123",
                role=role,
                team_code=team,
            )
            token = accounts.create_token(session, clock, accounts.SYSTEM, user)
            headers[username] = {"Authorization": f"Bearer {token}"}
    return headers


def complaint(db: Database, clock: FrozenClock, **overrides: Any) -> int:
    complaint_id = create(db, clock, **overrides)
    assign(db, clock, complaint_id, "agent_a")
    return complaint_id


def ask(
    client: TestClient,
    who: dict[str, str],
    complaint_id: int,
    amount: str,
    method: str = "cash",
    reason: str | None = "物流延误，按标准补偿",
) -> Any:
    body: dict[str, Any] = {"method": method, "amount": amount}
    if reason is not None:
        body["reason"] = reason
    return client.post(f"/api/v1/complaints/{complaint_id}/compensation", json=body, headers=who)


def decide(
    client: TestClient, who: dict[str, str], request_id: int, decision: str = "approve", **kw: Any
) -> Any:
    body = {"decision": decision, "reason": kw.pop("reason", ""), **kw}
    return client.post(
        f"/api/v1/compensation/requests/{request_id}/decision", json=body, headers=who
    )


def payouts(db: Database, request_id: int) -> list[CompensationPayout]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(CompensationPayout).where(CompensationPayout.request_id == request_id)
            )
        )


def stored(db: Database, request_id: int) -> CompensationRequest:
    with db.session(write=False) as session:
        req = session.get(CompensationRequest, request_id)
        assert req is not None
        return req


def amount(value: str) -> Decimal:
    return Decimal(value)
