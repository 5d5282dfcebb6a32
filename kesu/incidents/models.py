"""A minimal incident record: what happened, which complaints belong to it, its status.

The batch rule ("the same category more than 5 times in 24 h") opens one; later complaints of
that category join the open incident instead of opening another.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kesu.complaints.models import Complaint
from kesu.db import Base


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "ix_incidents_open_category",
            "category_id",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    severity: Mapped[str] = mapped_column(String(16), default="serious")
    # open | closed
    status: Mapped[str] = mapped_column(String(16), default="open")
    summary: Mapped[str] = mapped_column(Text, default="")
    opened_by: Mapped[str] = mapped_column(String(128), default="")
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rules.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str] = mapped_column(String(128), default="", server_default="")
    close_note: Mapped[str] = mapped_column(Text, default="", server_default="")


class IncidentComplaint(Base):
    __tablename__ = "incident_complaints"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    linked_at: Mapped[datetime]


# The batch rule counts one category's complaints over a recent window; without this index that
# count would read every complaint of the category. Declared here (the batch rule's package).
Index("ix_complaints_category_received", Complaint.category_id, Complaint.received_at)
