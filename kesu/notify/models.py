"""Notification tables: the in-app bell, the outbox, channel endpoints, users' preferences.

The outbox is the transactional half of every side effect: a row written in the same
transaction as the change it reports. ``kesu worker`` claims due rows with a compare-and-set
``UPDATE`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sends them outside any transaction and
records the outcome; ``dedup_key`` is unique, so one event never becomes two deliveries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kesu.db import Base


class Notification(Base):
    """One line under the bell of one user."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index(
            "ix_notifications_unread",
            "user_id",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class NotifyEndpoint(Base):
    """A group robot (DingTalk, WeCom, Feishu), an SMS gateway or a signed outgoing webhook."""

    __tablename__ = "notify_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # dingtalk | feishu | wecom | webhook | sms
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Events it receives (e.g. "sla.breach"); empty: every event.
    events: Mapped[list[str]] = mapped_column(default=list)
    # Team codes whose complaints it hears about; empty: all teams.
    teams: Mapped[list[str]] = mapped_column(default=list)
    locale: Mapped[str] = mapped_column(String(16), default="zh_CN")
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class NotifyPreference(Base):
    """The channels a user wants; without a row: in-app plus email when they have an address."""

    __tablename__ = "notify_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channels: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime]


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # What the worker looks for: pending rows, and sending rows whose lease ran out.
        Index(
            "ix_outbox_due",
            "available_at",
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index(
            "ix_outbox_failed",
            "id",
            sqlite_where=text("status = 'failed'"),
            postgresql_where=text("status = 'failed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    # email | sms | dingtalk | feishu | wecom | webhook
    channel: Mapped[str] = mapped_column(String(16))
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("notify_endpoints.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(String(255), default="")
    event: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending | sending | delivered | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # When the next attempt may start (for a sending row: when its lease runs out).
    available_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class CustomerTemplate(Base):
    """An admin's version of a customer message (kesu/notify/data/customer_templates.toml
    holds the defaults): per event and language, the email subject and body and the SMS."""

    __tablename__ = "customer_templates"

    event: Mapped[str] = mapped_column(String(32), primary_key=True)
    locale: Mapped[str] = mapped_column(String(8), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sms: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class SiteValue(Base):
    """A small key-value row kept by the web processes for the workers: ``public_url`` is the
    last public address a request was served on (kesu.web.public_url)."""

    __tablename__ = "site_values"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))
    updated_at: Mapped[datetime]
