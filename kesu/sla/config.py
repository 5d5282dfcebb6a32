"""SLA configuration as validated values: policies and calendars, cached per process.

Rows are parsed once into frozen values (conditions compiled, targets checked), kept for a few
seconds (``kesu.taxonomy.cache``) and cleared at once by edits in this process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.errors import InvalidInput
from kesu.routing import conditions
from kesu.routing.conditions import Condition
from kesu.sla.calendar import BusinessCalendar, CalendarConfigError
from kesu.sla.milestones import MILESTONES, POLICY_MILESTONES
from kesu.sla.models import SlaCalendar, SlaPolicy
from kesu.taxonomy import cache as config_cache
from kesu.web.i18n import gettext as _

DEFAULT_CALENDAR = "standard"
MAX_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class Target:
    minutes: int | None = None
    working_days: int | None = None
    until_stage: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.minutes is not None:
            body["minutes"] = self.minutes
        if self.working_days is not None:
            body["working_days"] = self.working_days
        if self.until_stage:
            body["until_stage"] = self.until_stage
        return body


@dataclass(frozen=True)
class PolicySpec:
    id: int
    code: str
    name: str
    position: int
    condition: Condition
    targets: Mapping[str, Target]
    calendar_code: str
    notify_calendar_code: str
    warn_percent: int
    level_percents: tuple[int, int]
    stage_limits: bool
    version: int


def parse_targets(raw: Any, field: str = "targets") -> dict[str, Target]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(_("时限目标必须是对象"), field=field)
    parsed: dict[str, Target] = {}
    for code, spec in raw.items():
        where = f"{field}.{code}"
        if code not in POLICY_MILESTONES:
            raise InvalidInput(
                _("未知的时限节点 %(code)s，可用：%(options)s")
                % {"code": code, "options": ", ".join(POLICY_MILESTONES)},
                field=where,
            )
        if not isinstance(spec, Mapping) or set(spec) - {"minutes", "working_days", "until_stage"}:
            raise InvalidInput(
                _("时限目标需要 minutes 或 working_days（可另加 until_stage）"), field=where
            )
        minutes, days = spec.get("minutes"), spec.get("working_days")
        if (minutes is None) == (days is None):
            raise InvalidInput(_("分钟数与工作日只能填一个"), field=where)
        for name, value, high in (("minutes", minutes, MAX_MINUTES), ("working_days", days, 60)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high
            ):
                raise InvalidInput(
                    _("%(name)s 必须是 1–%(high)d 的整数") % {"name": name, "high": high},
                    field=f"{where}.{name}",
                )
        until = spec.get("until_stage")
        if until is not None and (not isinstance(until, str) or not until):
            raise InvalidInput(_("until_stage 必须是阶段代码"), field=f"{where}.until_stage")
        parsed[code] = Target(minutes, days, until)
    return parsed


def parse_levels(raw: Any, warn_percent: int) -> tuple[int, int]:
    if (
        not isinstance(raw, list | tuple)
        or len(raw) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
        or not 100 < raw[0] < raw[1] <= 1000
    ):
        raise InvalidInput(
            _("升级百分比需要两个递增的整数，均大于 100 且不超过 1000（例如 150、200）"),
            field="level_percents",
        )
    if not 1 <= warn_percent < 100:
        raise InvalidInput(_("预警百分比需在 1–99 之间"), field="warn_percent")
    return int(raw[0]), int(raw[1])


def spec_of(row: SlaPolicy) -> PolicySpec:
    return PolicySpec(
        id=row.id,
        code=row.code,
        name=row.name,
        position=row.position,
        condition=conditions.parse(row.conditions),
        targets=parse_targets(row.targets),
        calendar_code=row.calendar_code,
        notify_calendar_code=row.notify_calendar_code,
        warn_percent=row.warn_percent,
        level_percents=parse_levels(row.level_percents, row.warn_percent),
        stage_limits=row.stage_limits,
        version=row.version,
    )


def active_policies(session: Session) -> tuple[PolicySpec, ...]:
    """Active policies in order of position (the first whose conditions match applies)."""

    def load() -> tuple[PolicySpec, ...]:
        rows = session.scalars(
            select(SlaPolicy).where(SlaPolicy.is_active).order_by(SlaPolicy.position, SlaPolicy.id)
        )
        return tuple(spec_of(row) for row in rows)

    return config_cache.cached(session, "sla_policies", load)


def policy_by_id(session: Session, policy_id: int | None) -> PolicySpec | None:
    return next((p for p in active_policies(session) if p.id == policy_id), None)


def calendars(session: Session) -> dict[str, BusinessCalendar]:
    def load() -> dict[str, BusinessCalendar]:
        found = {}
        for row in session.scalars(select(SlaCalendar)):
            try:
                found[row.code] = BusinessCalendar.from_config(row.config)
            except CalendarConfigError:
                continue  # validated on save; a broken row falls back to the default
        return found

    return config_cache.cached(session, "sla_calendars", load)


def calendar(session: Session, code: str) -> BusinessCalendar:
    found = calendars(session)
    return found.get(code) or found.get(DEFAULT_CALENDAR) or BusinessCalendar()


def milestone_codes() -> list[str]:
    return list(MILESTONES)
