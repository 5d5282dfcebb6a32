"""`kesu demo` shows the ledger alive: this month's budgets, and one payout paid when the
requests' demo approved some."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from kesu.compensation import ledger
from kesu.compensation.models import CompensationBudget, CompensationPayout
from kesu.db import Database
from tests.test_demo_alive import demo_db

__all__ = ["demo_db"]


def test_the_demo_has_budgets_this_month_and_a_paid_payout(demo_db: Database) -> None:
    period = ledger.period_of(datetime.now(UTC))
    with demo_db.session(write=False) as session:
        budgets = session.scalars(
            select(CompensationBudget).where(CompensationBudget.period == period)
        ).all()
        assert any(b.team_id is None for b in budgets)
        payouts = session.scalars(select(CompensationPayout)).all()
        paid = [p for p in payouts if p.paid_at is not None]
        assert len(paid) == (1 if payouts else 0)
        assert all(p.paid_reference == "DEMO-PAY-0001" for p in paid)
        uses = ledger.budgets(session, period)
        teams = [u for u in uses if u.team is not None]
        assert len(teams) == len({p.team_id for p in payouts if p.team_id and p.period == period})
        assert all(u.level == "warning" for u in teams)
