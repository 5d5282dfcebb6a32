"""Report schedules, their recipients and their runs (one per schedule and period).

A run row is the idempotency key of a scheduled report: ``(schedule_id, period)`` is unique,
so however many workers see the same due schedule, one of them inserts the run and writes the
outbox emails in the same transaction; the others insert nothing and send nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kesu.complaints.models import Complaint
from kesu.db import Base

# The corrective actions of a period (the ``measures`` output of 执行整改): a partial index
# of the complaints that have one, by arrival, so the report reads the newest few of its
# period without scanning the month. kesu.reports.service.measures repeats the predicate
# word for word (SQLite uses a partial index only when the query states its condition).
HAS_MEASURES = {
    "sqlite": "json_extract(outputs, '$.measures') IS NOT NULL",
    "postgresql": "(outputs ->> 'measures') IS NOT NULL",
}
Index(
    "ix_complaints_measures_received",
    Complaint.received_at,
    sqlite_where=text(HAS_MEASURES["sqlite"]),
    postgresql_where=text(HAS_MEASURES["postgresql"]),
)


class ReportSchedule(Base):
    """A monthly or quarterly report emailed on day ``day`` of the month after the period."""

    __tablename__ = "report_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # monthly | quarterly
    day: Mapped[int] = mapped_column(default=1)  # 1..28, local (Asia/Shanghai) date
    format: Mapped[str] = mapped_column(String(8), default="pdf")  # pdf | xlsx
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    # The team whose report it is; None: every team.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    recipients: Mapped[list[ReportRecipient]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ReportRecipient.id"
    )


class ReportRecipient(Base):
    __tablename__ = "report_recipients"
    __table_args__ = (UniqueConstraint("schedule_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("report_schedules.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(255))


class ReportRun(Base):
    """One scheduled report sent: the period, the file's name and size, how many emails."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("report_schedules.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(8))  # 2026-11 | 2026-Q4
    filename: Mapped[str] = mapped_column(String(128), default="")
    size: Mapped[int] = mapped_column(default=0)
    emails: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
