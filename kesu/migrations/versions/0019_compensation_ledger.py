"""the compensation ledger: payouts and budgets

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compensation_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("warned_percent", sa.Integer(), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_compensation_budgets_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_budgets")),
        sa.UniqueConstraint(
            "period", "team_id", name=op.f("uq_compensation_budgets_period_team_id")
        ),
    )

    op.create_table(
        "compensation_payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("standard_version", sa.Integer(), nullable=True),
        sa.Column("approved_at", kesu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", kesu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("paid_reference", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_compensation_payouts_complaint_id_complaints"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["compensation_requests.id"],
            name=op.f("fk_compensation_payouts_request_id_compensation_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_compensation_payouts_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_payouts")),
        sa.UniqueConstraint("request_id", name=op.f("uq_compensation_payouts_request_id")),
    )

    with op.batch_alter_table("compensation_payouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compensation_payouts_approved_at"), ["approved_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_compensation_payouts_complaint_id"), ["complaint_id"], unique=False
        )
        batch_op.create_index(
            "ix_compensation_payouts_period_team_id", ["period", "team_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("compensation_budgets")
    op.drop_table("compensation_payouts")
