from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kesu.accounts.models import Team, User
from kesu.db import Base
from kesu.taxonomy.models import Category


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    region: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Set when the customer's data was erased (PIPL request or retention): name, phone, email
    # and external id are gone here and on every complaint's snapshot.
    anonymized_at: Mapped[datetime | None]
    # Set when the customer asked for no more messages but the acknowledgement (kesu.notify).
    notify_opt_out_at: Mapped[datetime | None]


class Stage(Base):
    """A stage of the closed loop, as data. ``position`` orders the forward path."""

    __tablename__ = "stages"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    public_name: Mapped[str] = mapped_column(String(64), default="")
    position: Mapped[int] = mapped_column(unique=True)
    category: Mapped[str] = mapped_column(String(16))
    # Roles allowed to move a complaint out of this stage.
    allowed_roles: Mapped[list[str]] = mapped_column(default=list)
    time_limit_minutes: Mapped[int | None]
    # Needed to leave the stage: [{"code": "findings", "label": "调查结论", "label_en": …}].
    required_outputs: Mapped[list[Any]] = mapped_column(default=list)
    # Stage codes this one may send a complaint back to (besides the next stage).
    back_to: Mapped[list[str]] = mapped_column(default=list)
    is_active: Mapped[bool] = mapped_column(default=True)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_stage_id", "stage", "id"),
        # The (team_id | assignee_id, id, …) indexes of the lists: kesu/workbench/models.py.
        Index(
            "ix_complaints_open_due_at",
            "due_at",
            "id",
            sqlite_where=text("is_open = 1 AND due_at IS NOT NULL"),
            postgresql_where=text("is_open AND due_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    # The language the customer used (the public form's, or the API body's ``locale``): the
    # language of the messages kesu sends them (kesu.notify.customer).
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN", server_default="zh_CN")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # What this complaint said about the customer, as given: a later complaint (or an anonymous
    # visitor with the same phone) never rewrites it, and the customer row is staff's to edit.
    contact_name: Mapped[str | None] = mapped_column(String(128))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    order_no: Mapped[str | None] = mapped_column(String(64), index=True)
    # The order's value in CNY, when known: compensation standards may use it (kesu.compensation).
    order_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    product: Mapped[str | None] = mapped_column(String(128))
    remedy: Mapped[str | None] = mapped_column(String(16))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    severity: Mapped[str] = mapped_column(String(16), default="minor")
    priority: Mapped[int] = mapped_column(default=3)
    stage: Mapped[str] = mapped_column(ForeignKey("stages.code"))
    stage_entered_at: Mapped[datetime]
    is_open: Mapped[bool] = mapped_column(default=True)
    due_at: Mapped[datetime | None]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    tags: Mapped[list[str]] = mapped_column(default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Stage outputs: investigation findings, the solution, preventive measures, the result.
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    reopen_count: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)
    category: Mapped[Category | None] = relationship(lazy="joined")
    team: Mapped[Team | None] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")
    repeat_of: Mapped[Complaint | None] = relationship(
        foreign_keys=[repeat_of_id], remote_side=[id], lazy="select"
    )


class ComplaintEvent(Base):
    """One line of a complaint's timeline: who did what, when, and who may see it."""

    __tablename__ = "complaint_events"
    __table_args__ = (Index("ix_complaint_events_complaint_id_id", "complaint_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[str] = mapped_column(String(32))
    visibility: Mapped[str] = mapped_column(String(16), default="internal")
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    complaint: Mapped[Complaint] = relationship(lazy="select")


class ComplaintSequence(Base):
    """Per-day counter behind numbers like TS20261122-000001."""

    __tablename__ = "complaint_sequences"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int]


class IdempotencyKey(Base):
    """Remembers which complaint an ``Idempotency-Key`` created, so a retry returns it."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]

    complaint: Mapped[Complaint] = relationship(lazy="select")


# The assignee counters' flush hook (kesu.routing.loads) is installed wherever complaints exist.
import kesu.routing.loads  # noqa: E402, F401
