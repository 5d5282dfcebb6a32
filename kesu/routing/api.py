"""JSON routes for routing rules, the dry run and agents' assignment profiles (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from sqlalchemy import select

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import get_complaint_for_user, require
from kesu.errors import InvalidInput, NotFound
from kesu.routing import actions as act
from kesu.routing import conditions, engine, rules
from kesu.routing.conditions import FIELDS, OPS
from kesu.routing.models import AgentProfile, RoutingRule
from kesu.routing.schemas import DryRunIn, ProfileIn, ReorderIn, RuleIn, RulePatch
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.params import Code

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/rules", dependencies=[Needs(Permission.admin)])
def list_rules(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    require(user, Permission.admin)
    found = session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id))
    return [rules.rule_out(r) for r in found]


@router.post("/rules", dependencies=[NeedsW(Permission.admin)], status_code=status.HTTP_201_CREATED)
def create_rule(body: RuleIn, db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        fields = body.model_dump(exclude_none=True)
        rule = rules.create_rule(session, clock, actor_for(user), fields)
        session.commit()
        return rules.rule_out(rule)


@router.get("/rules/{rule_id}", dependencies=[Needs(Permission.admin)])
def get_rule(rule_id: RuleId, session: ReadSession, user: UserR) -> dict[str, Any]:
    require(user, Permission.admin)
    return rules.rule_out(rules.get_rule(session, rule_id))


@router.patch("/rules/{rule_id}", dependencies=[NeedsW(Permission.admin)])
def update_rule(
    rule_id: RuleId, body: RulePatch, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        rule = rules.get_rule(session, rule_id)
        fields = body.model_dump(exclude_unset=True, exclude={"version"})
        fields = {k: v for k, v in fields.items() if v is not None}
        rules.update_rule(session, clock, actor_for(user), rule, body.version, fields)
        session.commit()
        return rules.rule_out(rule)


@router.delete(
    "/rules/{rule_id}",
    dependencies=[NeedsW(Permission.admin)],
    status_code=status.HTTP_204_NO_CONTENT,
)
def delete_rule(rule_id: RuleId, db: DatabaseDep, user: UserW, clock: ClockDep) -> None:
    with db.session() as session:
        require(user, Permission.admin)
        rules.delete_rule(session, clock, actor_for(user), rules.get_rule(session, rule_id))
        session.commit()


@router.post("/rules/reorder", dependencies=[NeedsW(Permission.admin)])
def reorder(body: ReorderIn, db: DatabaseDep, user: UserW, clock: ClockDep) -> list[dict[str, Any]]:
    with db.session() as session:
        require(user, Permission.admin)
        ordered = rules.reorder(session, clock, actor_for(user), body.ids)
        session.commit()
        return [rules.rule_out(r) for r in ordered]


@router.post("/dry-run", dependencies=[Needs(Permission.admin)])
def dry_run(body: DryRunIn, session: ReadSession, user: UserR, clock: ClockDep) -> dict[str, Any]:
    """Which rules would fire on a complaint for an event, without changing anything. With
    ``rule``, tries that draft rule alone (e.g. before saving it)."""
    require(user, Permission.admin)
    if body.event not in engine.TRIGGER_NAMES:
        raise InvalidInput(_("未知事件：%(event)s") % {"event": body.event}, field="event")
    complaint = get_complaint_for_user(session, user, body.complaint)
    candidates = None
    if body.rule is not None:
        draft = rules.validate(session, body.rule.model_dump(exclude_none=True))
        candidates = [engine.spec_of(RoutingRule(id=0, version=0, **_draft_fields(draft)))]
    report = engine.dry_run(session, complaint, body.event, clock.now(), candidates)
    return {
        "complaint": complaint.number,
        "event": body.event,
        "rules": report,
        "would_fire": [r["id"] for r in report if r["matches"]],
    }


def _draft_fields(draft: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "is_active", "events", "conditions", "actions", "stop")
    return {"position": draft.get("position") or 0, **{k: draft[k] for k in keys if k in draft}}


@router.get("/catalog", dependencies=[Needs(Permission.admin)])
def catalog(user: UserR) -> dict[str, Any]:
    """Fields, operators, events and action types the rule editor offers."""
    require(user, Permission.admin)
    return {
        "fields": {name: {"kind": kind, "ops": sorted(OPS[kind])} for name, kind in FIELDS.items()},
        "custom_field_prefix": "custom.",
        "events": engine.TRIGGER_NAMES,
        "actions": list(act.TYPES),
        # what the structured editor offers: labels, value shapes, enum options, parameters
        "conditions": conditions.catalog(),
        "action_params": act.catalog(),
    }


@router.get("/agents/{username}", dependencies=[Needs(Permission.admin)])
def get_profile(username: Code, session: ReadSession, user: UserR) -> dict[str, Any]:
    require(user, Permission.admin)
    account = _user(session, username)
    return rules.profile_out(account, session.get(AgentProfile, account.id))


@router.put("/agents/{username}", dependencies=[NeedsW(Permission.admin)])
def set_profile(
    username: Code, body: ProfileIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        account = _user(session, username)
        profile = rules.set_profile(
            session,
            clock,
            actor_for(user),
            account,
            skills=body.skills,
            absent_until=body.absent_until,
            shift=body.shift,
            auto_assign=body.auto_assign,
        )
        session.commit()
        return rules.profile_out(account, profile)


def _user(session: Any, username: str) -> User:
    account = session.scalar(select(User).where(User.username == username))
    if account is None:
        raise NotFound(_("没有这个用户：%(name)s") % {"name": username}, field="username")
    return account
