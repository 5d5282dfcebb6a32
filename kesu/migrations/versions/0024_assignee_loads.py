"""assignee open-complaint counters

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 07:00:00

``assignee_loads``: open assigned complaints per person (kesu.routing.loads), backfilled from
the complaints in id ranges of ``BATCH`` (each range one indexed read of the primary key), so
an existing database of any size is counted without one huge aggregate.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

BATCH = 100_000


def upgrade() -> None:
    op.create_table(
        "assignee_loads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("open_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_assignee_loads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_assignee_loads")),
    )
    _backfill(op.get_bind())


def _backfill(bind: sa.Connection) -> None:
    top = bind.execute(sa.text("SELECT MAX(id) FROM complaints")).scalar() or 0
    totals: Counter[int] = Counter()
    for low in range(0, top, BATCH):
        rows = bind.execute(
            sa.text(
                "SELECT assignee_id, COUNT(*) FROM complaints"
                " WHERE id > :low AND id <= :high AND is_open AND assignee_id IS NOT NULL"
                " GROUP BY assignee_id"
            ),
            {"low": low, "high": low + BATCH},
        )
        totals.update({user_id: count for user_id, count in rows})
    if totals:
        bind.execute(
            sa.text("INSERT INTO assignee_loads (user_id, open_count) VALUES (:u, :n)"),
            [{"u": user_id, "n": count} for user_id, count in sorted(totals.items())],
        )


def downgrade() -> None:
    op.drop_table("assignee_loads")
