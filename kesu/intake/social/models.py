"""Tables: the configured sources, every accepted post (a *mention*), daily delivery counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kesu.db import Base


class SocialSource(Base):
    """A social-media or public-opinion source sending posts to its signed webhook."""

    __tablename__ = "social_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # The channel its complaints are registered with (kesu.complaints.enums.Channel).
    platform: Mapped[str] = mapped_column(String(16))
    # The HMAC-SHA256 key the sender signs with; shown once when generated or rotated.
    secret: Mapped[str] = mapped_column(String(128))
    # kesu field -> dotted path in the sender's JSON ({"content": "data.post.text", …}).
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    secret_rotated_at: Mapped[datetime]
    last_delivery_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(255), default="")
    last_error_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SocialMention(Base):
    """One accepted post. ``status``: ``complaint`` (the detection registered it),
    ``pending`` (in the review queue), ``converted`` (an agent made it a complaint) or
    ``dismissed`` (with a reason). ``(source_id, external_id)`` is the replay key."""

    __tablename__ = "social_mentions"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        UniqueConstraint("source_id", "delivery_id"),
        Index("ix_social_mentions_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("social_sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    delivery_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(1000))
    phone: Mapped[str | None] = mapped_column(String(32))
    order_no: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    method: Mapped[str] = mapped_column(String(16), default="")
    note: Mapped[str] = mapped_column(String(255), default="")  # why it was not registered
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL"), index=True
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime]

    source: Mapped[SocialSource] = relationship(lazy="joined", innerjoin=True)


class SocialDeliveryCount(Base):
    """Per source and day (Asia/Shanghai): what came in and what was refused. Refused
    deliveries are only counted (and the last reason kept on the source), never stored."""

    __tablename__ = "social_delivery_counts"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("social_sources.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    accepted: Mapped[int] = mapped_column(default=0)
    complaints: Mapped[int] = mapped_column(default=0)
    mentions: Mapped[int] = mapped_column(default=0)
    replays: Mapped[int] = mapped_column(default=0)
    bad_signature: Mapped[int] = mapped_column(default=0)
    invalid: Mapped[int] = mapped_column(default=0)
