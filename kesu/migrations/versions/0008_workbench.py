"""workbench: saved views

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


OPEN = {"sqlite_where": sa.text("is_open = 1"), "postgresql_where": sa.text("is_open")}
CLOSED = {"sqlite_where": sa.text("is_open = 0"), "postgresql_where": sa.text("NOT is_open")}
OPEN_NO_DUE = {
    "sqlite_where": sa.text("is_open = 1 AND due_at IS NULL"),
    "postgresql_where": sa.text("is_open AND due_at IS NULL"),
}
SORTS = (
    ("received", "received_at"),
    ("updated", "updated_at"),
    ("priority", "priority"),
    ("stage", "stage"),
)


def _indexes() -> list[tuple[str, list[str], dict[str, object]]]:
    """The workbench's sort indexes (kesu/workbench/models.py)."""
    found: list[tuple[str, list[str], dict[str, object]]] = []
    for key, column in SORTS:
        found.append((f"ix_complaints_open_team_{key}", ["team_id", column, "id"], OPEN))
        found.append((f"ix_complaints_open_assignee_{key}", ["assignee_id", column, "id"], OPEN))
        if key != "stage":
            found.append((f"ix_complaints_open_{key}", [column, "id"], OPEN))
            found.append((f"ix_complaints_closed_{key}", [column, "id"], CLOSED))
    found.append(("ix_complaints_open_nodue", ["id"], OPEN_NO_DUE))
    found.append(("ix_complaints_open_nodue_team", ["team_id", "id"], OPEN_NO_DUE))
    found.append(("ix_complaints_open_nodue_assignee", ["assignee_id", "id"], OPEN_NO_DUE))
    return found


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("created_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_views_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_saved_views_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_saved_views_owner_id_name")),
    )
    op.create_index(op.f("ix_saved_views_owner_id"), "saved_views", ["owner_id"], unique=False)
    for name, columns, where in _indexes():
        op.create_index(name, "complaints", columns, unique=False, **where)


def downgrade() -> None:
    for name, _columns, _where in reversed(_indexes()):
        op.drop_index(name, table_name="complaints")
    op.drop_index(op.f("ix_saved_views_owner_id"), table_name="saved_views")
    op.drop_table("saved_views")
