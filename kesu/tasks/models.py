"""Tasks attached to a complaint: a sub-task for another department, or an escalation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kesu.db import Base


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_complaint_id", "complaint_id"),
        Index(
            "ix_tasks_open_team",
            "team_id",
            "due_at",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    # subtask | escalation
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    level: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime | None]
    # open | done
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str] = mapped_column(String(128), default="", server_default="")
