"""Editing SLA policies and calendars: validated, versioned, audited.

An edit to a policy bumps its ``version``; the worker then re-targets the running clocks of
complaints on it (``kesu.sla.reconcile``). Disabling a policy does the same: its complaints
move to the next policy that matches.
"""

from __future__ import annotations

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
            raise InvalidInput(f"没有这个日历: {code} (unknown calendar)", field=key)


def get_policy(session: Session, policy_id: int) -> SlaPolicy:
    policy = session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound(f"没有这个时限策略: {policy_id} (no such policy)", field="id")
    return policy


def create_policy(
    session: Session, clock: Clock, actor: Actor, fields: dict[str, Any]
) -> SlaPolicy:
    code = str(fields.pop("code", "")).strip()
    if not code or len(code) > 64:
        raise InvalidInput("需要策略代码 (code is required)", field="code")
    if session.scalar(select(SlaPolicy.id).where(SlaPolicy.code == code)):
        raise Conflict(f"策略代码已存在: {code} (code exists)", field="code")
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
        raise StaleVersion(
            f"策略已被他人修改 (version {version} is stale; current is {policy.version})",
            field="version",
        )
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput(f"不能修改字段 {sorted(unknown)[0]}", field=sorted(unknown)[0])
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
        raise InvalidInput("日历代码只能包含字母、数字、_ 和 - (calendar code)", field="code")
    try:
        BusinessCalendar.from_config(config)
    except CalendarConfigError as exc:
        raise InvalidInput(f"日历无效: {exc}", field=f"config.{str(exc).split(':')[0]}") from None
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
