"""Saved views (a named set of workbench filters and a sort) and the sort indexes.

Each sortable column of the workbench is read with a keyset cursor (kesu.complaints.sorting),
one query per scope branch; each (branch, column) pair has an index so that a page is a range
scan whatever the number of complaints. The team queue and "mine" show open complaints only,
so their indexes are partial on ``is_open``; the "all" tab (open, closed or both) reads the
``(column, id)`` indexes of open and of closed complaints, one branch each. (Partial indexes
only: without statistics SQLite would otherwise pick an ``(is_open, …)`` index for the team
queue too, and walk every open complaint.)

The newest-first lists (migration 0026) read ``(team_id | assignee_id, id, …)`` and, for the
open queues, partial ``(team_id | assignee_id | -, id, …)`` indexes of open complaints. Their
trailing columns are the filters a branch's index cannot seek on (the other of team and
assignee, ``is_open``, severity, channel): SQLite and PostgreSQL test them on the index entry
and read a table row only for the entries that match, so a filter that is rare in a team
costs a walk over small index entries, never a row per complaint of the team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kesu.complaints.models import Complaint
from kesu.db import Base

OPEN: dict[str, Any] = {"sqlite_where": text("is_open = 1"), "postgresql_where": text("is_open")}
CLOSED: dict[str, Any] = {
    "sqlite_where": text("is_open = 0"),
    "postgresql_where": text("NOT is_open"),
}
OPEN_NO_DUE: dict[str, Any] = {
    "sqlite_where": text("is_open = 1 AND due_at IS NULL"),
    "postgresql_where": text("is_open AND due_at IS NULL"),
}

for _key, _column in (
    ("received", Complaint.received_at),
    ("updated", Complaint.updated_at),
    ("priority", Complaint.priority),
    ("stage", Complaint.stage),
):
    Index(f"ix_complaints_open_team_{_key}", Complaint.team_id, _column, Complaint.id, **OPEN)
    Index(
        f"ix_complaints_open_assignee_{_key}", Complaint.assignee_id, _column, Complaint.id, **OPEN
    )
    if _key != "stage":  # the "all" tab's stage sort reads ix_complaints_stage_id
        Index(f"ix_complaints_open_{_key}", _column, Complaint.id, **OPEN)
        Index(f"ix_complaints_closed_{_key}", _column, Complaint.id, **CLOSED)

# The newest-first lists by scope branch (kesu.complaints.queries), with the filters the
# branch cannot seek on carried in the entry (migration 0026).
FILTERS = (Complaint.severity, Complaint.channel)
Index(
    "ix_complaints_team_id_id_filters",
    Complaint.team_id,
    Complaint.id,
    Complaint.assignee_id,
    Complaint.is_open,
    *FILTERS,
)
Index(
    "ix_complaints_assignee_id_id_filters",
    Complaint.assignee_id,
    Complaint.id,
    Complaint.team_id,
    Complaint.is_open,
    *FILTERS,
)
Index(
    "ix_complaints_open_team_id",
    Complaint.team_id,
    Complaint.id,
    Complaint.assignee_id,
    *FILTERS,
    **OPEN,
)
Index(
    "ix_complaints_open_assignee_id",
    Complaint.assignee_id,
    Complaint.id,
    Complaint.team_id,
    *FILTERS,
    **OPEN,
)
Index(
    "ix_complaints_open_id",
    Complaint.id,
    Complaint.team_id,
    Complaint.assignee_id,
    *FILTERS,
    **OPEN,
)

# Open complaints without a deadline (paused clocks) come last in the deadline sort; the ones
# with a deadline are read on the SLA's (…, due_at, id) indexes (kesu/sla/models.py).
Index("ix_complaints_open_nodue", Complaint.id, **OPEN_NO_DUE)
Index("ix_complaints_open_nodue_team", Complaint.team_id, Complaint.id, **OPEN_NO_DUE)
Index("ix_complaints_open_nodue_assignee", Complaint.assignee_id, Complaint.id, **OPEN_NO_DUE)


class SavedView(Base):
    """A user's named workbench query. Private to its owner unless an admin shares it with a
    team (``visibility = "team"``) or with everyone (``"all"``)."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # The workbench's query string as a dict: tab, filters and sort (never a cursor).
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
