"""Helpers of the standards and recommendation tests (kept out of conftest.py, which the three
compensation helpers would all edit): complaints with given facts, the seeded matrix as rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kesu.accounts.service import Actor
from kesu.compensation import standards
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database


def complaint(db: Database, clock: Any, **overrides: Any) -> int:
    """A complaint registered through the service; returns its id."""
    customer = {
        "name": "王女士",
        "phone": overrides.pop("phone", "13800138000"),
        "tier": overrides.pop("tier", "standard"),
    }
    body: dict[str, Any] = {
        "channel": "api",
        "content": overrides.pop("content", "收到的耳机左耳没有声音，申请退款。"),
        "customer": customer,
    }
    body.update(overrides)
    with db.session() as session:
        made, _ = registration.create_complaint(
            session, clock, Actor("system", None, "系统"), ComplaintCreate.model_validate(body)
        )
        session.commit()
        return made.id


def set_stage(db: Database, complaint_id: int, stage: str) -> None:
    """Test set-up only: puts a complaint at a stage without walking the outputs."""
    with db.session() as session:
        found = session.get(Complaint, complaint_id)
        assert found is not None
        found.stage = stage
        session.commit()


def current_rules(db: Database) -> tuple[int, list[dict[str, Any]]]:
    """The current version's number and its rows as the PUT body takes them."""
    with db.session() as session:
        version = standards.current_version(session)
        rows = [
            {
                "name": r.name,
                "name_en": r.name_en,
                "conditions": r.conditions,
                "methods": list(r.methods),
                "amount_rule": dict(r.amount_rule),
            }
            for r in standards.rules_of(session, version)
        ]
        return version.number, rows


def version_count(db: Database) -> int:
    from kesu.compensation.models import StandardVersion

    with db.session() as session:
        return len(list(session.scalars(select(StandardVersion.id))))


D = Decimal
