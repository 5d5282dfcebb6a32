"""compensation requests and approvals

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compensation_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("standard_version", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", kesu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", kesu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("deviation", sa.Boolean(), nullable=False),
        sa.Column("recommended_method", sa.String(length=16), nullable=True),
        sa.Column("recommended_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("rule_name", sa.String(length=128), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_compensation_requests_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_compensation_requests_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["compensation_rules.id"],
            name=op.f("fk_compensation_requests_rule_id_compensation_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_requests")),
    )

    with op.batch_alter_table("compensation_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compensation_requests_complaint_id"), ["complaint_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_compensation_requests_status"), ["status"], unique=False
        )
        batch_op.create_index(
            "uq_compensation_requests_open",
            ["complaint_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "compensation_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", kesu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["users.id"], name=op.f("fk_compensation_approvals_approver_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["compensation_requests.id"],
            name=op.f("fk_compensation_approvals_request_id_compensation_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_compensation_approvals_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_approvals")),
    )

    with op.batch_alter_table("compensation_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compensation_approvals_request_id"), ["request_id"], unique=False
        )


    op.create_table(
        "compensation_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("max_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_tiers")),
        sa.UniqueConstraint("position", name=op.f("uq_compensation_tiers_position")),
    )


def downgrade() -> None:
    op.drop_table("compensation_tiers")
    op.drop_table("compensation_approvals")
    op.drop_table("compensation_requests")
