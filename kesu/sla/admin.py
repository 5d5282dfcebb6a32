"""Editing SLA policies and calendars: validated, versioned, audited.

An edit to a policy bumps its ``version``; the worker then re-targets the running clocks of
complaints on it (``kesu.sla.reconcile``). Disabling a policy does the same: its complaints
move to the next policy that matches.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.errors import Conflict, InvalidInput, NotFound, StaleVersion
from kesu.routing import conditions
from kesu.sla.calendar import BusinessCalendar, CalendarConfigError, has_statutory_data
from kesu.sla.config import parse_levels, parse_targets
from kesu.sla.models import SlaCalendar, SlaPolicy
from kesu.taxonomy import cache as config_cache
from kesu.web.i18n import gettext as _

POLICY_FIELDS = (
    "name",
    "name_en",
    "description",
    "position",
    "is_active",
    "conditions",
    "targets",
    "calendar_code",
    "notify_calendar_code",
    "warn_percent",
    "level_percents",
    "stage_limits",
)


def _validate(session: Session, fields: dict[str, Any], current: SlaPolicy | None) -> None:
    if "name" in fields or current is None:
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise InvalidInput(_("请填写策略名称（最多 128 个字符）"), field="name")
    if "conditions" in fields:
        fields["conditions"] = conditions.to_json(conditions.parse(fields["conditions"] or {}))
    if "targets" in fields:
        parse_targets(fields["targets"])
    warn = fields.get("warn_percent", current.warn_percent if current else 80)
    levels = fields.get("level_percents", current.level_percents if current else [150, 200])
    parse_levels(levels, warn)
    for key in ("calendar_code", "notify_calendar_code"):
        code = fields.get(key)
        if (
            code is not None
            and session.scalar(select(SlaCalendar.id).where(SlaCalendar.code == code)) is None
        ):
            raise InvalidInput(_("没有这个日历：%(code)s") % {"code": code}, field=key)


def get_policy(session: Session, policy_id: int) -> SlaPolicy:
    policy = session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound(_("没有这个时限策略：%(id)s") % {"id": policy_id}, field="id")
    return policy


def create_policy(
    session: Session, clock: Clock, actor: Actor, fields: dict[str, Any]
) -> SlaPolicy:
    code = str(fields.pop("code", "")).strip()
    if not code or len(code) > 64:
        raise InvalidInput(_("请填写策略代码（最多 64 个字符）"), field="code")
    if session.scalar(select(SlaPolicy.id).where(SlaPolicy.code == code)):
        raise Conflict(_("策略代码已存在：%(code)s") % {"code": code}, field="code")
    if "targets" not in fields:
        raise InvalidInput(_("至少需要一个时限目标"), field="targets")
    _validate(session, fields, None)
    policy = SlaPolicy(
        code=code,
        name=fields["name"],
        name_en=fields.get("name_en", ""),
        description=fields.get("description", ""),
        position=fields.get("position", 100),
        is_active=fields.get("is_active", True),
        conditions=fields.get("conditions", {}),
        targets=fields["targets"],
        calendar_code=fields.get("calendar_code", "standard"),
        notify_calendar_code=fields.get("notify_calendar_code", "standard"),
        warn_percent=fields.get("warn_percent", 80),
        level_percents=fields.get("level_percents", [150, 200]),
        stage_limits=fields.get("stage_limits", False),
        version=1,
        applied_version=1,
        updated_at=clock.now(),
    )
    session.add(policy)
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "sla_policy.create",
        "sla_policy",
        policy.id,
        {"code": code, **fields},
    )
    config_cache.clear()
    return policy


def update_policy(
    session: Session,
    clock: Clock,
    actor: Actor,
    policy: SlaPolicy,
    version: int,
    fields: dict[str, Any],
) -> SlaPolicy:
    """Applies an edit; running clocks on the policy are re-targeted by the worker."""
    if version != policy.version:
        raise StaleVersion(_("策略已被他人修改，请刷新页面后重试"), field="version")
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput(
            _("不能修改字段 %(field)s") % {"field": sorted(unknown)[0]}, field=sorted(unknown)[0]
        )
    _validate(session, fields, policy)
    diff = {}
    for key, value in fields.items():
        if getattr(policy, key) != value:
            diff[key] = [getattr(policy, key), value]
            setattr(policy, key, value)
    if diff:
        policy.version += 1
        policy.updated_at = clock.now()
        record_audit(session, clock, actor, "sla_policy.update", "sla_policy", policy.id, diff)
        config_cache.clear()
    return policy


def policy_out(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "code": policy.code,
        "name": policy.name,
        "name_en": policy.name_en,
        "description": policy.description,
        "position": policy.position,
        "is_active": policy.is_active,
        "conditions": policy.conditions,
        "targets": policy.targets,
        "calendar_code": policy.calendar_code,
        "notify_calendar_code": policy.notify_calendar_code,
        "warn_percent": policy.warn_percent,
        "level_percents": policy.level_percents,
        "stage_limits": policy.stage_limits,
        "version": policy.version,
        "reconciled": policy.applied_version == policy.version,
        "updated_at": policy.updated_at,
    }


def put_calendar(
    session: Session, clock: Clock, actor: Actor, code: str, name: str, config: dict[str, Any]
) -> SlaCalendar:
    """Creates or replaces a calendar. Clocks use it from their next change or worker pass."""
    if not code or len(code) > 64 or not code.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(_("日历代码只能包含字母、数字、_ 和 -"), field="code")
    try:
        BusinessCalendar.from_config(config)
    except CalendarConfigError as exc:
        where = str(exc).split(":")[0]
        raise InvalidInput(
            _("日历设置 %(field)s 无效") % {"field": where}, field=f"config.{where}"
        ) from None
    row = session.scalar(select(SlaCalendar).where(SlaCalendar.code == code))
    before = dict(row.config) if row else None
    if row is None:
        row = SlaCalendar(code=code, name=name or code, config=config, updated_at=clock.now())
        session.add(row)
    else:
        row.name = name or row.name
        row.config = config
        row.updated_at = clock.now()
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "sla_calendar.put",
        "sla_calendar",
        code,
        {"config": [before, config]},
    )
    config_cache.clear()
    return row


def calendar_out(row: SlaCalendar) -> dict[str, Any]:
    years = sorted({int(d[:4]) for d in row.config.get("holidays", [])})
    return {
        "code": row.code,
        "name": row.name,
        "config": row.config,
        "statutory_data_next_year": has_statutory_data(row.updated_at.year + 1),
        "admin_holiday_years": years,
        "updated_at": row.updated_at,
    }


# -- the admin's extra days of a calendar -------------------------------------------------------

DAY_KINDS = ("holiday", "workday")
# How far from today an extra day may be: older complaints' deadlines are already computed.
DAY_YEARS_BACK = 1
DAY_YEARS_AHEAD = 5


def get_calendar(session: Session, code: str) -> SlaCalendar:
    row = session.scalar(select(SlaCalendar).where(SlaCalendar.code == code))
    if row is None:
        raise NotFound(_("没有这个日历：%(code)s") % {"code": code}, field="code")
    return row


def _day(clock: Clock, value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("日期格式应为 YYYY-MM-DD"), field="day") from None
    year = clock.now().year
    if not year - DAY_YEARS_BACK <= day.year <= year + DAY_YEARS_AHEAD:
        raise InvalidInput(
            _("日期需在 %(low)d 年至 %(high)d 年之间")
            % {"low": year - DAY_YEARS_BACK, "high": year + DAY_YEARS_AHEAD},
            field="day",
        )
    return day


def _store_config(row: SlaCalendar, config: dict[str, Any]) -> None:
    try:
        BusinessCalendar.from_config(config)
    except CalendarConfigError as exc:
        where = str(exc).split(":")[0]
        raise InvalidInput(
            _("日历设置 %(field)s 无效") % {"field": where}, field=f"config.{where}"
        ) from None
    row.config = config


def add_calendar_day(
    session: Session,
    clock: Clock,
    actor: Actor,
    row: SlaCalendar,
    day_text: str,
    kind: str,
    note: str,
) -> date:
    """Adds an extra holiday or working day (with a note); a day listed as the other kind
    moves over. Clocks take it from their next change or worker pass."""
    day = _day(clock, day_text)
    if kind not in DAY_KINDS:
        raise InvalidInput(_("请选择节假日或工作日"), field="kind")
    if len(note) > 200:
        raise InvalidInput(_("备注最多 200 个字符"), field="note")
    iso = day.isoformat()
    config = dict(row.config)
    for key in ("holidays", "workdays"):
        config[key] = [d for d in config.get(key, []) if d != iso]
    key = "holidays" if kind == "holiday" else "workdays"
    config[key] = sorted([*config[key], iso])
    _store_config(row, config)
    row.day_notes = {**(row.day_notes or {}), iso: note}
    row.updated_at = clock.now()
    record_audit(
        session,
        clock,
        actor,
        "sla_calendar.day_add",
        "sla_calendar",
        row.code,
        {"day": iso, "kind": kind, "note": note},
    )
    config_cache.clear()
    return day


def remove_calendar_day(
    session: Session, clock: Clock, actor: Actor, row: SlaCalendar, day_text: str
) -> None:
    iso = day_text.strip()
    config = dict(row.config)
    listed = [key for key in ("holidays", "workdays") if iso in config.get(key, [])]
    if not listed:
        raise NotFound(_("这个日历没有额外设置 %(day)s") % {"day": iso[:10]}, field="day")
    for key in listed:
        config[key] = [d for d in config[key] if d != iso]
    _store_config(row, config)
    notes = dict(row.day_notes or {})
    note = notes.pop(iso, "")
    row.day_notes = notes
    row.updated_at = clock.now()
    record_audit(
        session,
        clock,
        actor,
        "sla_calendar.day_remove",
        "sla_calendar",
        row.code,
        {"day": iso, "kind": "holiday" if listed[0] == "holidays" else "workday", "note": note},
    )
    config_cache.clear()
