"""SLA tables: calendars and policies (configuration), clocks (timers) and alerts (once-only log).

A clock is one milestone of one complaint ("first response within 60 business minutes"). Its
``next_fire_at`` is the timer: the moment its next threshold (warning, breach, level 2, level 3)
is crossed. A partial index on it lets the worker find due clocks in O(due), and the worker
claims them with a compare-and-set ``UPDATE``. Each threshold crossed writes an ``sla_alerts``
row whose unique key (complaint, kind, deadline) makes the alert once-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from kesu.complaints.models import Complaint
from kesu.db import Base


class SlaCalendar(Base):
    """A business calendar as data (see ``kesu.sla.calendar.BusinessCalendar.from_config``)."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The admin's note on each extra holiday / working day of ``config``: {"2026-12-24": "…"}.
    day_notes: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    updated_at: Mapped[datetime]


class SlaPolicy(Base):
    """Targets per milestone for the complaints its conditions match; the first match wins."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=100)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The condition tree (kesu.routing.conditions); {"all": []} matches every complaint.
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"first_response": {"minutes": 60}, "follow_up": {"working_days": 3}, …}
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    calendar_code: Mapped[str] = mapped_column(String(64), default="standard")
    # Non-urgent notifications wait for this calendar's business hours.
    notify_calendar_code: Mapped[str] = mapped_column(String(64), default="standard")
    warn_percent: Mapped[int] = mapped_column(default=80)
    # When escalation levels 2 and 3 fire, as a share of the target (level 1 is the breach).
    level_percents: Mapped[list[Any]] = mapped_column(default=lambda: [150, 200])
    # Whether the stages' own time limits run as a clock under this policy.
    stage_limits: Mapped[bool] = mapped_column(default=True)
    # Bumped on every edit; clocks remember the version they were computed with.
    version: Mapped[int] = mapped_column(default=1)
    # The version all running clocks have been brought to (the worker catches up).
    applied_version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]


class SlaClock(Base):
    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("complaint_id", "milestone", "cycle"),
        Index(
            "ix_sla_clocks_due",
            "next_fire_at",
            sqlite_where=text("next_fire_at IS NOT NULL"),
            postgresql_where=text("next_fire_at IS NOT NULL"),
        ),
        Index(
            "ix_sla_clocks_policy_running",
            "policy_id",
            "policy_version",
            sqlite_where=text("status IN ('running', 'paused')"),
            postgresql_where=text("status IN ('running', 'paused')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    milestone: Mapped[str] = mapped_column(String(32))
    # 0 for the first handling; solution/resolution/follow-up start again after each reopen.
    cycle: Mapped[int] = mapped_column(default=0)
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    policy_version: Mapped[int] = mapped_column(default=0)
    calendar_code: Mapped[str] = mapped_column(String(64))
    target_minutes: Mapped[int]
    warn_percent: Mapped[int] = mapped_column(default=80)
    level_percents: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime]
    # [[start, end-or-null], …] as ISO strings: the spans spent waiting for the customer.
    pauses: Mapped[list[Any]] = mapped_column(default=list)
    # running | paused | met | cancelled
    status: Mapped[str] = mapped_column(String(16), default="running")
    due_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(default=False)
    # Thresholds already alerted: 0 none, 1 warning, 2 breach (level 1), 3 level 2, 4 level 3.
    notified: Mapped[int] = mapped_column(default=0)
    next_fire_at: Mapped[datetime | None]
    next_kind: Mapped[str | None] = mapped_column(String(16))
    # On one running clock of the complaint (kesu.sla.service): the first threshold of its
    # clocks that have no row yet; ``next_fire_at`` is then at most this (next_kind "wake").
    wake_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    # complaint.sla_clocks (a backref): the clocks of a complaint, pending ones included.
    complaint: Mapped[Complaint] = relationship(
        lazy="select", backref=backref("sla_clocks", passive_deletes=True)
    )


class SlaAlert(Base):
    """A threshold crossed (or an escalation by a rule): the escalation log and its lock."""

    __tablename__ = "sla_alerts"
    # The unique key also serves "the alerts of a complaint" (its first column).
    __table_args__ = (UniqueConstraint("complaint_id", "kind", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    # The clock that fired it (None for a rule's escalation). Not a foreign key: it would cost
    # a check per alert in the worker's pass, and each deleted clock a scan of this table
    # (there is no index on it); clocks are only ever deleted with their complaint, which
    # deletes its alerts too.
    clock_id: Mapped[int | None]
    # "warning:first_response", "breach:resolution", "level2:solution", "rule:7:level3" …
    kind: Mapped[str] = mapped_column(String(64))
    deadline: Mapped[datetime]
    level: Mapped[int] = mapped_column(default=0)
    fired_at: Mapped[datetime]


# The overdue list of a team, of the unassigned pool (team NULL) and of a person, most overdue
# first: one range scan each on these, whatever the number of complaints. Without them the
# planner walks the (team, id) index and sorts every open complaint of the team. Declared here
# because ``complaints.due_at`` is the SLA's deadline (kesu.sla.service.sync).
for _name, _column in (("team", Complaint.team_id), ("assignee", Complaint.assignee_id)):
    Index(
        f"ix_complaints_{_name}_open_due",
        _column,
        Complaint.due_at,
        Complaint.id,
        sqlite_where=text("is_open = 1 AND due_at IS NOT NULL"),
        postgresql_where=text("is_open AND due_at IS NOT NULL"),
    )
