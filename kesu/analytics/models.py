"""Tables of analytics: the complaint facts and their rollups (kept by kesu.analytics.rollups),
the worker's cursor over the complaint events, business volumes and KPI targets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kesu.analytics.facts import COUNTS, HIST
from kesu.complaints.models import Complaint
from kesu.db import Base

__all__ = ["AnalyticsCursor", "Base", "BusinessVolume", "Fact", "KpiTarget", "Rollup"]


class Fact(Base):
    """What one complaint contributes now (kesu.analytics.facts.Fact), as last added to the
    rollups: the incremental update subtracts it and adds the new one."""

    __tablename__ = "analytics_facts"

    complaint_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date)
    dims: Mapped[list[Any]] = mapped_column(default=list)
    measures: Mapped[list[Any]] = mapped_column(default=list)


class Rollup(Base):
    """Sums of facts per local day for one *cube* (a subset of the dimensions; the others are
    0 / ""). kesu.analytics.rollups.CUBES lists them; a query reads the smallest cube that has
    every dimension it filters or groups on."""

    __tablename__ = "analytics_rollups"
    __table_args__ = (
        UniqueConstraint(
            "cube",
            "day",
            "category_id",
            "channel",
            "region",
            "team_id",
            "handler_id",
            "product",
            name="uq_analytics_rollups_key",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cube: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str] = mapped_column(String(16), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    team_id: Mapped[int] = mapped_column(default=0)
    handler_id: Mapped[int] = mapped_column(default=0)
    product: Mapped[str] = mapped_column(String(128), default="")


for _name in (*COUNTS, *HIST):
    setattr(
        Rollup,
        _name,
        mapped_column(_name, BigInteger, default=0, nullable=False),
    )


class AnalyticsCursor(Base):
    """How far the worker has read ``complaint_events`` (by id) into the rollups."""

    __tablename__ = "analytics_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class BusinessVolume(Base):
    """Orders of one period (a day, or a month: ``period_start`` is its first day) for a
    product (line) and region ("" = all regions): the complaint rate's denominator."""

    __tablename__ = "business_volumes"
    __table_args__ = (
        UniqueConstraint("kind", "period_start", "product", "region", name="uq_business_volumes"),
        Index("ix_business_volumes_period", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # day | month
    period_start: Mapped[date] = mapped_column(Date)
    product: Mapped[str] = mapped_column(String(128), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    orders: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class KpiTarget(Base):
    """An admin's target for a KPI: the condition a good value meets (``operator`` ``value``);
    ``value`` NULL switches a default target off."""

    __tablename__ = "kpi_targets"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    operator: Mapped[str] = mapped_column(String(2), default=">=")
    value: Mapped[float | None] = mapped_column(Numeric(14, 4))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")


# The facts' repeat look-up ("does a later complaint repeat this one?") reads this.
Index("ix_complaints_repeat_of_id", Complaint.repeat_of_id)
