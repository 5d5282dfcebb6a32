"""indexes for agent pages at a million complaints

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 07:00:00

The newest-first lists by scope branch (kesu/workbench/models.py): the ``(team_id, id)`` and
``(assignee_id, id)`` indexes get the filters a branch cannot seek on as trailing columns,
and the open queues get partial indexes of open complaints by team, by assignee and by id
alone (the managers' 全部 tab). On SQLite at 1,000,000 complaints the five take about 20 s
to build (measured on the shared machine); the complaints table is locked meanwhile. On a
large PostgreSQL table build them by hand first with ``CREATE INDEX CONCURRENTLY`` (same
names): this migration skips the ones that exist. `kesu serve` refreshes the planner's
statistics when it starts (``Database.analyze``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

FILTERS = ["severity", "channel"]
OPEN = {"sqlite_where": sa.text("is_open = 1"), "postgresql_where": sa.text("is_open")}
INDEXES: list[tuple[str, list[str], dict[str, sa.TextClause]]] = [
    ("ix_complaints_team_id_id_filters", ["team_id", "id", "assignee_id", "is_open", *FILTERS], {}),
    (
        "ix_complaints_assignee_id_id_filters",
        ["assignee_id", "id", "team_id", "is_open", *FILTERS],
        {},
    ),
    ("ix_complaints_open_team_id", ["team_id", "id", "assignee_id", *FILTERS], OPEN),
    ("ix_complaints_open_assignee_id", ["assignee_id", "id", "team_id", *FILTERS], OPEN),
    ("ix_complaints_open_id", ["id", "team_id", "assignee_id", *FILTERS], OPEN),
]
REPLACED = [
    ("ix_complaints_team_id_id", ["team_id", "id"]),
    ("ix_complaints_assignee_id_id", ["assignee_id", "id"]),
]


def _existing() -> set[str]:
    return {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("complaints")}


def upgrade() -> None:
    existing = _existing()
    for name, columns, where in INDEXES:
        if name not in existing:
            op.create_index(name, "complaints", columns, **where)
    for name, _columns in REPLACED:  # the new ones start with the same columns
        if name in existing:
            op.drop_index(name, table_name="complaints")


def downgrade() -> None:
    existing = _existing()
    for name, columns in REPLACED:
        if name not in existing:
            op.create_index(name, "complaints", columns)
    for name, _columns, _where in INDEXES:
        if name in existing:
            op.drop_index(name, table_name="complaints")
