"""`kesu demo`: two report schedules (a monthly PDF in Chinese to the managers, a quarterly
Excel in English), so /reports shows schedules and the worker sends them when their day comes."""

from __future__ import annotations

from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.clock import Clock
from kesu.db import Database
from kesu.reports import schedules
from kesu.reports.schedules import ScheduleIn


def show(db: Database, clock: Clock) -> int:
    """Creates the demo's schedules (none if some exist); returns how many."""
    with db.session() as session:
        if schedules.listed(session):
            return 0
        managers = [
            u.email
            for u in session.scalars(
                select(User).where(User.role.in_(("manager", "executive")), User.is_active)
            )
            if u.email
        ]
        to = tuple(managers[:5]) or ("manager@example.com",)
        schedules.create(
            session,
            clock,
            accounts.SYSTEM,
            ScheduleIn("月度投诉分析（管理层）", "monthly", 1, "pdf", "zh_CN", to),
        )
        schedules.create(
            session,
            clock,
            accounts.SYSTEM,
            ScheduleIn("Quarterly complaint analysis", "quarterly", 5, "xlsx", "en", to[:1]),
        )
    return 2
