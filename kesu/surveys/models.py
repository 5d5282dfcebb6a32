"""Tables: one survey per resolution, and the per-channel survey settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kesu.complaints.models import Complaint
from kesu.db import Base

# scheduled → sent → answered | expired; cancelled when the complaint left 满意度评价 by hand.
OPEN = ("scheduled", "sent")


class Survey(Base):
    """The satisfaction survey of one resolution of a complaint (``round``: 1, 2 … after each
    re-resolution). ``next_at`` is the worker's timer: when scheduled, the send; when sent,
    the expiry; when answered well, the archive (NULL: nothing due). Claimed like SLA clocks."""

    __tablename__ = "surveys"
    __table_args__ = (
        UniqueConstraint("complaint_id", "round"),
        Index(
            "ix_surveys_next_at",
            "next_at",
            sqlite_where=text("next_at IS NOT NULL"),
            postgresql_where=text("next_at IS NOT NULL"),
        ),
        Index("ix_surveys_agent_answered", "agent_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(default=1)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    locale: Mapped[str] = mapped_column(String(16), default="zh_CN")
    # The handling agent at resolution: credited for good scores.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    send_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    next_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    sends: Mapped[int] = mapped_column(default=0)  # messages queued (first send + resends)
    channel: Mapped[str] = mapped_column(String(16), default="")  # email | sms | '' (none)
    answered_at: Mapped[datetime | None]
    timeliness: Mapped[int | None]
    solution: Mapped[int | None]
    attitude: Mapped[int | None]
    nps: Mapped[int | None]
    comment: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str] = mapped_column(String(16), default="")  # good | low | unrated | ''

    complaint: Mapped[Complaint] = relationship(lazy="joined")


class SurveySetting(Base):
    """Admin settings: channel ``*`` holds the defaults, a channel's row overrides them."""

    __tablename__ = "survey_settings"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    delay_minutes: Mapped[int | None]
    validity_days: Mapped[int | None]
    archive_delay_minutes: Mapped[int | None]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")
