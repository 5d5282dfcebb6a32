"""Routing tables: rules (condition → actions), agents' availability and skills, and the
round-robin cursor of each team."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kesu.db import Base


class RoutingRule(Base):
    """When ``conditions`` hold on one of ``events``, run ``actions`` in order."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=100)
    is_active: Mapped[bool] = mapped_column(default=True)
    # created | updated | stage_changed | assigned | reopened | customer_message | timer_fired …
    events: Mapped[list[str]] = mapped_column(default=lambda: ["created"])
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actions: Mapped[list[Any]] = mapped_column(default=list)
    # Later rules are not evaluated once this one fired.
    stop: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentProfile(Base):
    """What automatic assignment needs to know about a user: skills, absence, shift."""

    __tablename__ = "agent_profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[list[str]] = mapped_column(default=list)
    # Absent (leave, sick) until this moment; NULL: present.
    absent_until: Mapped[datetime | None]
    # A calendar config (kesu.sla.calendar) for the shift; NULL: always on shift.
    shift: Mapped[dict[str, Any] | None]
    # False: never picked by automatic assignment (e.g. a lead who only takes escalations).
    auto_assign: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class AssignmentCursor(Base):
    """Round-robin position per team: the user picked last."""

    __tablename__ = "assignment_cursors"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    last_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]


class AssigneeLoad(Base):
    """Open complaints assigned to a person, kept by kesu.routing.loads in the transaction of
    every change (what ``least_loaded`` reads instead of counting complaints)."""

    __tablename__ = "assignee_loads"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    open_count: Mapped[int] = mapped_column(default=0, server_default="0")
