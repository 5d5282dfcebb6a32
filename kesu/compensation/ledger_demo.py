"""`kesu demo`: the ledger alive. Run after the requests' demo (kesu.compensation.service's,
which approves requests and so writes payouts): budgets for the current month — the
company's, and for each team with payouts one that is running low (about 85 % used, so the
page warns and managers and finance hear of it) — and the oldest unpaid payout marked paid
as the payment system's callback would (reference DEMO-PAY-0001)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import Team, User
from kesu.clock import Clock
from kesu.compensation import ledger
from kesu.compensation.models import CompensationPayout
from kesu.db import Database

COMPANY_BUDGET = Decimal("50000.00")
RUNNING_LOW = Decimal("0.85")


def show(db: Database, clock: Clock) -> dict[str, int]:
    """Returns how many budgets were set and payouts marked paid."""
    with db.session() as session:
        finance = session.scalar(select(User).where(User.role == "finance_approver"))
        actor = accounts.Actor.of(finance) if finance is not None else accounts.SYSTEM
        period = ledger.period_of(clock.now())
        used = ledger.used_of(session, period, None)
        company = max(COMPANY_BUDGET, (used * 2).quantize(Decimal("1"), ROUND_CEILING))
        ledger.set_budget(session, clock, actor, period, None, company)
        made = 1
        team_ids = session.scalars(
            select(CompensationPayout.team_id)
            .where(CompensationPayout.period == period, CompensationPayout.team_id.is_not(None))
            .distinct()
        ).all()
        for team_id in team_ids:
            team = session.get(Team, team_id)
            spent = ledger.used_of(session, period, team_id)
            if team is None or spent <= 0:
                continue
            amount = (spent / RUNNING_LOW).quantize(Decimal("1"), ROUND_CEILING)
            ledger.set_budget(session, clock, actor, period, team, amount)
            made += 1
        first = session.scalar(
            select(CompensationPayout)
            .where(CompensationPayout.paid_at.is_(None))
            .order_by(CompensationPayout.id)
            .limit(1)
        )
        paid = 0
        if first is not None:
            ledger.mark_paid(session, clock, actor, first.request_id, "DEMO-PAY-0001")
            paid = 1
    return {"budgets": made, "paid": paid}
