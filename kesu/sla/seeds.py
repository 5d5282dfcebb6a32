"""Default calendars and SLA policies (``kesu/seeds/sla_policies.toml``) for an empty database."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.routing import conditions
from kesu.seeds.loader import read_seed
from kesu.sla.calendar import BusinessCalendar
from kesu.sla.config import parse_levels, parse_targets
from kesu.sla.models import SlaCalendar, SlaPolicy


def load(session: Session, clock: Clock) -> list[str]:
    seeded = []
    data = read_seed("sla_policies.toml")
    now = clock.now()
    if not session.scalar(select(func.count()).select_from(SlaCalendar)):
        for row in data.get("calendar", []):
            BusinessCalendar.from_config(row["config"])  # a broken seed fails loudly
            session.add(
                SlaCalendar(
                    code=row["code"], name=row["name"], config=row["config"], updated_at=now
                )
            )
        seeded.append("sla_calendars")
    if not session.scalar(select(func.count()).select_from(SlaPolicy)):
        for row in data.get("policy", []):
            conditions.parse(row.get("conditions", {}))
            parse_targets(row["targets"])
            parse_levels(row.get("level_percents", [150, 200]), row.get("warn_percent", 80))
            session.add(
                SlaPolicy(
                    code=row["code"],
                    name=row["name"],
                    name_en=row.get("name_en", ""),
                    description=row.get("description", ""),
                    position=row.get("position", 100),
                    is_active=row.get("is_active", True),
                    conditions=row.get("conditions", {}),
                    targets=row["targets"],
                    calendar_code=row.get("calendar", "standard"),
                    notify_calendar_code=row.get("notify_calendar", "standard"),
                    warn_percent=row.get("warn_percent", 80),
                    level_percents=row.get("level_percents", [150, 200]),
                    stage_limits=row.get("stage_limits", True),
                    version=1,
                    applied_version=1,
                    updated_at=now,
                )
            )
        seeded.append("sla_policies")
    return seeded
