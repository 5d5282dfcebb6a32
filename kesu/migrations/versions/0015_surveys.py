"""satisfaction surveys

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("send_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("next_at", kesu.db.UTCDateTime(), nullable=True),
        sa.Column("sent_at", kesu.db.UTCDateTime(), nullable=True),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("answered_at", kesu.db.UTCDateTime(), nullable=True),
        sa.Column("timeliness", sa.Integer(), nullable=True),
        sa.Column("solution", sa.Integer(), nullable=True),
        sa.Column("attitude", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_surveys_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_surveys_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("complaint_id", "round", name=op.f("uq_surveys_complaint_id_round")),
        sa.UniqueConstraint("token", name=op.f("uq_surveys_token")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_surveys_complaint_id"), ["complaint_id"])
        batch_op.create_index("ix_surveys_agent_answered", ["agent_id", "answered_at"])
        batch_op.create_index(
            "ix_surveys_next_at",
            ["next_at"],
            sqlite_where=sa.text("next_at IS NOT NULL"),
            postgresql_where=sa.text("next_at IS NOT NULL"),
        )
    op.create_table(
        "survey_settings",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("delay_minutes", sa.Integer(), nullable=True),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("archive_delay_minutes", sa.Integer(), nullable=True),
        sa.Column("updated_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_survey_settings")),
    )


def downgrade() -> None:
    op.drop_table("survey_settings")
    op.drop_table("surveys")
