"""analytics: complaint facts and rollups, the events cursor, business volumes, KPI targets

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The measures of kesu.analytics.facts (COUNTS then the handling-time histogram), as of this
# revision: a later change to that list needs its own migration.
COUNTS = (
    "complaints",
    "response_due",
    "response_met",
    "resolved",
    "resolved_ever",
    "handling_minutes",
    "fcr",
    "reopened",
    "escalated",
    "sla_tracked",
    "breached",
    "repeats",
    "survey_answers",
    "survey_score_sum",
    "nps_answers",
    "nps_promoters",
    "nps_detractors",
)
HIST = tuple(f"h{i:02d}" for i in range(16))


def upgrade() -> None:
    op.create_table(
        "analytics_facts",
        sa.Column("complaint_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dims", sa.JSON(), nullable=False),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_analytics_facts")),
    )
    op.create_table(
        "analytics_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cube", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=128), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS + HIST),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rollups")),
        sa.UniqueConstraint(
            "cube",
            "day",
            "category_id",
            "channel",
            "region",
            "team_id",
            "handler_id",
            "product",
            name="uq_analytics_rollups_key",
        ),
    )
    op.create_table(
        "analytics_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_cursor")),
    )
    op.create_table(
        "business_volumes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("product", sa.String(length=128), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_volumes")),
        sa.UniqueConstraint(
            "kind", "period_start", "product", "region", name="uq_business_volumes"
        ),
    )
    op.create_index("ix_business_volumes_period", "business_volumes", ["period_start"])
    op.create_table(
        "kpi_targets",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("operator", sa.String(length=2), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("updated_at", kesu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_kpi_targets")),
    )
    op.create_index("ix_complaints_repeat_of_id", "complaints", ["repeat_of_id"])


def downgrade() -> None:
    op.drop_index("ix_complaints_repeat_of_id", table_name="complaints")
    op.drop_table("kpi_targets")
    op.drop_index("ix_business_volumes_period", table_name="business_volumes")
    op.drop_table("business_volumes")
    op.drop_table("analytics_cursor")
    op.drop_table("analytics_rollups")
    op.drop_table("analytics_facts")
