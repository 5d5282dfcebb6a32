"""sla clocks, fewer rows and indexes

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 07:00:00

``sla_clocks.wake_at``: clocks that are pure functions of their complaint are no longer
stored (kesu.sla.service); one stored clock carries their first threshold. A nullable column
without a default: instant on PostgreSQL and SQLite whatever the size of the table, and NULL
is right for every existing row (existing complaints have all their clocks stored).

``sla_alerts.clock_id`` loses its foreign key (kesu/sla/models.py says why). On PostgreSQL
that is a catalog change; on SQLite the table is copied once (batch mode).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kesu.db import UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sla_clocks", sa.Column("wake_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("sla_alerts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sla_alerts_clock_id_sla_clocks", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("sla_alerts", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_sla_alerts_clock_id_sla_clocks",
            "sla_clocks",
            ["clock_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_column("wake_at")
