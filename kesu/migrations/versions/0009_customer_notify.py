"""customer notifications: templates, opt-out, public URL, customer language

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite too): the complaints table is never rebuilt.
    op.add_column(
        "complaints",
        sa.Column("locale", sa.String(length=8), nullable=False, server_default="zh_CN"),
    )
    op.add_column("customers", sa.Column("notify_opt_out_at", kesu.db.UTCDateTime(), nullable=True))
    op.create_table(
        "customer_templates",
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sms", sa.Text(), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("event", "locale"),
    )
    op.create_table(
        "site_values",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("site_values")
    op.drop_table("customer_templates")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("notify_opt_out_at")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("locale")
