"""Helpers: complaints in two teams with hostile cells, staff of every role that matters."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select, update

from kesu.accounts.models import AuditLog, Team
from kesu.complaints.models import Complaint
from tests.flows import create
from tests.web.conftest import browser, signed_in  # noqa: F401  (fixtures)

PHONE = "13800138000"
HOSTILE = {"title": "=1+1", "order_no": "@SUM(A1)", "product": "-2"}
CONTENT_CMD = "+cmd|' /C calc'!A0 收到的耳机没有声音"


class Staff(dict[str, dict[str, str]]):
    """Bearer headers per role, each user made the first time it is asked for."""

    def __init__(self, make_user: Any) -> None:
        super().__init__()
        self.make_user = make_user

    def __missing__(self, role: str) -> dict[str, str]:
        team = "service" if role in ("agent", "team_lead") else None
        self[role] = self.make_user(f"{role}1", role, team)[1]
        return self[role]


@pytest.fixture
def data(db: Any, clock: Any, make_user: Any) -> dict[str, Any]:
    """Two complaints of team service (one with formula-like cells), one of logistics, and
    Bearer headers per role (``data["headers"]["auditor"]``)."""
    ids = [
        create(
            db,
            clock,
            customer={"name": "王小明", "phone": PHONE, "email": "xiaoming@example.com"},
            content=CONTENT_CMD,
            **HOSTILE,
        ),
        *(
            create(db, clock, content=f"第{i}件：耳机左耳没有声音，电话 13900001111")
            for i in range(2)
        ),
    ]
    with db.session() as session:
        teams = dict(session.execute(select(Team.code, Team.id)).all())
        for index, complaint_id in enumerate(ids):
            team = "service" if index < 2 else "logistics"
            session.execute(
                update(Complaint)
                .where(Complaint.id == complaint_id)
                .values(team_id=teams[team], assignee_id=None)
            )
        session.commit()
    return {"headers": Staff(make_user), "ids": ids}


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def exports_audited(db: Any) -> list[AuditLog]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(AuditLog).where(AuditLog.action == "export").order_by(AuditLog.id)
            )
        )
