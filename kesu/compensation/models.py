"""Tables of compensation: the standards (versioned), requests and their approvals, payouts.

Amounts are ``Numeric(14, 2)`` read as :class:`decimal.Decimal`, never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kesu.db import Base

MONEY = Numeric(14, 2)


# --- the standards (owned by kesu.compensation.standards) ---------------------------------
class StandardVersion(Base):
    """One published version of the whole matrix; editing makes a new one, old ones stay."""

    __tablename__ = "compensation_standard_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)  # 1, 2, 3 … as shown to people
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class StandardRule(Base):
    """One row of a version of the matrix: conditions (routing condition language) → method
    and amount rule."""

    __tablename__ = "compensation_rules"
    __table_args__ = (UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("compensation_standard_versions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the methods the customer may choose from, the first is the recommended one
    methods: Mapped[list[str]] = mapped_column(default=list)
    # {"kind": "fixed"|"percent"|"range"|"case_by_case", amounts as decimal strings}
    amount_rule: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- requests and approvals (owned by kesu.compensation.service / approvals) ---------------
class CompensationRequest(Base):
    """A request to pay a customer: method and amount, the recommendation it was made under,
    the chain it needs (``fast`` / ``chain`` / ``joint``). ``version`` is the mapper's
    version column: every decision is a compare-and-set on it."""

    __tablename__ = "compensation_requests"
    __table_args__ = (
        # One open request per complaint: a second concurrent one fails on this index.
        Index(
            "uq_compensation_requests_open",
            "complaint_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("compensation_rules.id"))
    standard_version: Mapped[int | None]  # StandardVersion.number the request was made under
    method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it deviates (or a note)
    deviation: Mapped[bool] = mapped_column(default=False)
    recommended_method: Mapped[str | None] = mapped_column(String(16))
    recommended_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    rule_name: Mapped[str] = mapped_column(String(128), default="")
    chain: Mapped[str] = mapped_column(String(16), default="chain")  # fast | chain | joint
    tier: Mapped[str] = mapped_column(String(32), default="")  # the tier's code
    steps_done: Mapped[int] = mapped_column(default=0)  # decided steps (each bumps version)

    __mapper_args__ = {"version_id_col": version}


class CompensationApproval(Base):
    """One step of a request's approval chain (a role, or a department of a joint review:
    the rows of a joint review share one step and may be decided in any order)."""

    __tablename__ = "compensation_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("compensation_requests.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int]
    role: Mapped[str] = mapped_column(String(32))  # a role, or "system" (fast claim)
    # The team whose lead decides (the complaint's team for a team-lead step, the department
    # of a joint review); NULL: anyone with the role.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]


class CompensationTier(Base):
    """One tier of the approval thresholds (admin-edited; empty table: data/approvals.toml).

    Tiers are ordered by ``position``; a request goes to the first tier whose ``max_amount``
    (inclusive) it does not exceed; the last tier has no maximum."""

    __tablename__ = "compensation_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(unique=True)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # fast | chain | joint
    max_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    roles: Mapped[list[str]] = mapped_column(default=list)  # the chain, in order
    departments: Mapped[list[str]] = mapped_column(default=list)  # team codes (joint)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")


# --- the ledger (owned by kesu.compensation.ledger) ----------------------------------------
class CompensationPayout(Base):
    """One approved payout: written once, in the transaction of the final approval.

    ``period`` is the local (Asia/Shanghai) month of ``approved_at`` (``YYYY-MM``): the budget
    it counts against. ``approvers`` is who approved it, in chain order
    (``[{"user_id", "label", "role", "decided_at"}]``; empty for a fast claim approved by rule).
    ``paid_at``/``paid_reference`` are set once by the payment system's callback."""

    __tablename__ = "compensation_payouts"
    __table_args__ = (Index("ix_compensation_payouts_period_team_id", "period", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("compensation_requests.id"), unique=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    standard_version: Mapped[int | None]
    approved_at: Mapped[datetime] = mapped_column(index=True)
    paid_at: Mapped[datetime | None]
    period: Mapped[str] = mapped_column(String(7), default="")
    approvers: Mapped[list[Any]] = mapped_column(default=list)
    paid_reference: Mapped[str | None] = mapped_column(String(128))


class CompensationBudget(Base):
    """The budget of a period (``YYYY-MM``) for a team (NULL: the whole company).

    ``warned_percent`` is the highest warning threshold (80, 100) already announced for it, so
    each threshold warns once (a compare-and-set ``UPDATE … WHERE warned_percent < t``)."""

    __tablename__ = "compensation_budgets"
    __table_args__ = (UniqueConstraint("period", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    warned_percent: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[str] = mapped_column(String(128), default="")
