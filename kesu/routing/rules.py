"""Editing routing rules and agent profiles: validated, versioned, audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import Team, User
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.errors import InvalidInput, NotFound, StaleVersion
from kesu.routing import actions as act
from kesu.routing import conditions
from kesu.routing.engine import TRIGGER_NAMES
from kesu.routing.models import AgentProfile, RoutingRule
from kesu.sla.calendar import BusinessCalendar, CalendarConfigError
from kesu.taxonomy import cache as config_cache
from kesu.web.i18n import gettext as _

EDITABLE = ("name", "description", "position", "is_active", "events", "conditions")
EDITABLE_MORE = ("actions", "stop")


def validate(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    """Checks rule fields (conditions, actions, events, referenced teams and users)."""
    clean = dict(fields)
    if "name" in clean and not str(clean["name"] or "").strip():
        raise InvalidInput(_("规则名称不能为空"), field="name")
    if "events" in clean:
        events = clean["events"]
        if not isinstance(events, list) or not events:
            raise InvalidInput(_("至少选择一个触发事件"), field="events")
        for event in events:
            if event not in TRIGGER_NAMES:
                raise InvalidInput(_("未知事件：%(event)s") % {"event": event}, field="events")
        clean["events"] = sorted(set(events), key=events.index)
    if "conditions" in clean:
        clean["conditions"] = conditions.to_json(conditions.parse(clean["conditions"] or {}))
    if "actions" in clean:
        parsed = act.parse(clean["actions"])
        _check_references(session, parsed)
        clean["actions"] = act.to_json(parsed)
    return clean


def _check_references(session: Session, parsed: tuple[act.Action, ...]) -> None:
    for i, action in enumerate(parsed):
        team = getattr(action, "team", None)
        known = team == act.CATEGORY_TEAM or not team
        if not known and session.scalar(select(Team.id).where(Team.code == team)) is None:
            raise InvalidInput(
                _("没有这个团队：%(code)s") % {"code": team}, field=f"actions[{i}].team"
            )
        user = getattr(action, "user", None)
        if user and session.scalar(select(User.id).where(User.username == user)) is None:
            raise InvalidInput(
                _("没有这个用户：%(name)s") % {"name": user}, field=f"actions[{i}].user"
            )


def get_rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(_("没有这个规则：%(id)s") % {"id": rule_id}, field="id")
    return rule


def create_rule(
    session: Session, clock: Clock, actor: Actor, fields: dict[str, Any]
) -> RoutingRule:
    clean = validate(session, {"events": ["created"], "conditions": {}, **fields})
    now = clock.now()
    rule = RoutingRule(
        name=clean["name"].strip(),
        description=clean.get("description", ""),
        position=clean.get("position", _next_position(session)),
        is_active=clean.get("is_active", True),
        events=clean["events"],
        conditions=clean["conditions"],
        actions=clean.get("actions", []),
        stop=clean.get("stop", False),
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    record_audit(session, clock, actor, "routing_rule.create", "routing_rule", rule.id, clean)
    config_cache.clear()
    return rule


def update_rule(
    session: Session,
    clock: Clock,
    actor: Actor,
    rule: RoutingRule,
    version: int,
    fields: dict[str, Any],
) -> RoutingRule:
    if version != rule.version:
        raise StaleVersion(
            _("规则已被他人修改（您看到的是第 %(seen)d 版，当前是第 %(current)d 版），请刷新后重试")
            % {"seen": version, "current": rule.version},
            field="version",
        )
    clean = validate(session, fields)
    diff = {}
    for key, value in clean.items():
        if key not in EDITABLE + EDITABLE_MORE:
            raise InvalidInput(_("不能修改字段 %(field)s") % {"field": key}, field=key)
        if getattr(rule, key) != value:
            diff[key] = [getattr(rule, key), value]
            setattr(rule, key, value)
    if diff:
        rule.version += 1
        rule.updated_at = clock.now()
        record_audit(session, clock, actor, "routing_rule.update", "routing_rule", rule.id, diff)
        config_cache.clear()
    return rule


def delete_rule(session: Session, clock: Clock, actor: Actor, rule: RoutingRule) -> None:
    record_audit(
        session, clock, actor, "routing_rule.delete", "routing_rule", rule.id, {"name": rule.name}
    )
    session.delete(rule)
    config_cache.clear()


def reorder(session: Session, clock: Clock, actor: Actor, ids: list[int]) -> list[RoutingRule]:
    """Positions 10, 20, 30 … in the order given; rules not listed keep their place after."""
    rules = {r.id: r for r in session.scalars(select(RoutingRule))}
    unknown = [i for i in ids if i not in rules]
    if unknown or len(set(ids)) != len(ids):
        raise InvalidInput(_("规则 id 无效或重复：%(ids)s") % {"ids": unknown or ids}, field="ids")
    order = ids + [
        r.id for r in sorted(rules.values(), key=lambda r: r.position) if r.id not in ids
    ]
    for index, rule_id in enumerate(order, start=1):
        rules[rule_id].position = index * 10
        rules[rule_id].version += 1
    record_audit(session, clock, actor, "routing_rule.reorder", "routing_rule", "*", {"ids": order})
    config_cache.clear()
    return sorted(rules.values(), key=lambda r: r.position)


def _next_position(session: Session) -> int:
    last = session.scalar(select(RoutingRule.position).order_by(RoutingRule.position.desc()))
    return (last or 0) + 10


def rule_out(rule: RoutingRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "description": rule.description,
        "position": rule.position,
        "is_active": rule.is_active,
        "events": rule.events,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "stop": rule.stop,
        "version": rule.version,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


# -- agent profiles ---------------------------------------------------------------------------


def set_profile(
    session: Session,
    clock: Clock,
    actor: Actor,
    user: User,
    *,
    skills: list[str],
    absent_until: datetime | None,
    shift: dict[str, Any] | None,
    auto_assign: bool,
) -> AgentProfile:
    if absent_until is not None and absent_until.tzinfo is None:
        raise InvalidInput(_("缺席截止时间需要带时区"), field="absent_until")
    if shift is not None:
        try:
            BusinessCalendar.from_config(shift)
        except CalendarConfigError as exc:
            raise InvalidInput(_("班次无效"), field=f"shift.{str(exc).split(':')[0]}") from None
    profile = session.get(AgentProfile, user.id)
    if profile is None:
        profile = AgentProfile(user_id=user.id, updated_at=clock.now())
        session.add(profile)
    profile.skills = sorted({s.strip() for s in skills if s.strip()})
    profile.absent_until = absent_until
    profile.shift = shift
    profile.auto_assign = auto_assign
    profile.updated_at = clock.now()
    record_audit(
        session,
        clock,
        actor,
        "agent_profile.update",
        "user",
        user.id,
        {
            "skills": profile.skills,
            "absent_until": absent_until,
            "shift": shift,
            "auto_assign": auto_assign,
        },
    )
    return profile


def set_absence(
    session: Session, clock: Clock, actor: Actor, user: User, absent_until: datetime | None
) -> AgentProfile:
    """Only the absence of ``user`` (their own, on their profile page); skills, shift and
    automatic assignment stay as the admin set them."""
    if absent_until is not None and absent_until.tzinfo is None:
        raise InvalidInput(_("缺席截止时间需要带时区"), field="absent_until")
    profile = session.get(AgentProfile, user.id)
    if profile is None:
        profile = AgentProfile(
            user_id=user.id, skills=[], auto_assign=user.role == "agent", updated_at=clock.now()
        )
        session.add(profile)
    before = profile.absent_until
    profile.absent_until = absent_until
    profile.updated_at = clock.now()
    record_audit(
        session,
        clock,
        actor,
        "agent_profile.absence",
        "user",
        user.id,
        {"absent_until": [before, absent_until]},
    )
    return profile


def profile_out(user: User, profile: AgentProfile | None) -> dict[str, Any]:
    return {
        "username": user.username,
        "team": user.team.code if user.team else None,
        "skills": profile.skills if profile else [],
        "absent_until": profile.absent_until if profile else None,
        "shift": profile.shift if profile else None,
        "auto_assign": profile.auto_assign if profile else user.role == "agent",
    }
