"""report schedules, recipients and runs

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_report_schedules_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
    )
    op.create_table(
        "report_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["report_schedules.id"],
            name=op.f("fk_report_recipients_schedule_id_report_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_recipients")),
        sa.UniqueConstraint(
            "schedule_id", "email", name=op.f("uq_report_recipients_schedule_id_email")
        ),
    )
    op.create_index(op.f("ix_report_recipients_schedule_id"), "report_recipients", ["schedule_id"])
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("emails", sa.Integer(), nullable=False),
        sa.Column("created_at", kesu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["report_schedules.id"],
            name=op.f("fk_report_runs_schedule_id_report_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_runs")),
        sa.UniqueConstraint(
            "schedule_id", "period", name=op.f("uq_report_runs_schedule_id_period")
        ),
    )

    op.create_index(
        "ix_complaints_measures_received",
        "complaints",
        ["received_at"],
        sqlite_where=sa.text("json_extract(outputs, '$.measures') IS NOT NULL"),
        postgresql_where=sa.text("(outputs ->> 'measures') IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_measures_received", table_name="complaints")
    op.drop_table("report_runs")
    op.drop_index(op.f("ix_report_recipients_schedule_id"), table_name="report_recipients")
    op.drop_table("report_recipients")
    op.drop_table("report_schedules")
