"""Tables: background export jobs (one row per large export, its progress and its file)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kesu.db import Base

# queued → running → done → expired (file removed); failed when writing it went wrong.
STATUSES = ("queued", "running", "done", "failed", "expired")


class ExportJob(Base):
    """An export of the workbench list too large to answer at once: the worker writes the file
    in chunks under ``<data dir>/exports`` and records its progress here. ``filters`` are the
    query parameters as the requester gave them (re-parsed into ``ComplaintFilters`` by the
    worker); ``masked`` is decided when it was asked for (and re-checked when it runs)."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        Index("ix_export_jobs_user", "user_id", "id"),
        Index("ix_export_jobs_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(8))  # xlsx | csv
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    masked: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    rows: Mapped[int] = mapped_column(default=0)  # written so far
    total: Mapped[int | None]  # counted when the worker starts
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    file_name: Mapped[str] = mapped_column(String(128), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
