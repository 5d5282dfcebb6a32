"""Carrying out one rule action through the domain services. Returns what was done (for the
timeline), or None when the action had nothing to do."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import service
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintUpdate
from kesu.notify.recipients import Directory
from kesu.notify.service import Notice, notify
from kesu.notify.texts import local_time
from kesu.routing import actions as act
from kesu.routing.assignment import pick
from kesu.sla.calendar import BusinessCalendar
from kesu.sla.service import standard_calendar
from kesu.taxonomy.enums import SEVERITY_RANK, Severity


def apply(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    action: act.Action,
    rule_id: int,
    rule_name: str,
) -> str | None:
    if isinstance(action, act.Assign):
        return _assign(session, clock, actor, complaint, action, rule_name)
    if isinstance(action, act.SetSeverity):
        current, wanted = (
            SEVERITY_RANK[Severity(complaint.severity)],
            SEVERITY_RANK[action.severity],
        )
        if current == wanted or (action.only_raise and current > wanted):
            return None
        _update(session, clock, actor, complaint, rule_name, severity=action.severity)
        return act.describe(action)
    if isinstance(action, act.SetPriority):
        current = complaint.priority
        if current == action.priority or (action.only_raise and current < action.priority):
            return None
        _update(session, clock, actor, complaint, rule_name, priority=action.priority)
        return act.describe(action)
    if isinstance(action, act.AddTag):
        if action.tag in (complaint.tags or []):
            return None
        tags = [*(complaint.tags or []), action.tag]
        _update(session, clock, actor, complaint, rule_name, tags=tags)
        return act.describe(action)
    if isinstance(action, act.Notify):
        people = Directory(session).resolve(complaint, action.to)
        notice = Notice(
            event=action.template,
            complaint=complaint,
            extra={"rule": rule_name},
            urgent=action.urgent,
            quiet_calendar=None if action.urgent else _standard(session),
        )
        sent = notify(session, clock, notice, people)
        return f"{act.describe(action)}（{len(people)} 人）" if sent else None
    if isinstance(action, act.Escalate):
        from kesu.sla.escalation import escalate

        done = escalate(session, clock, actor, complaint, action.level, f"rule{rule_id}", rule_name)
        return act.describe(action) if done else None
    if isinstance(action, act.OpenIncident):
        from kesu.incidents.service import open_or_join

        incident, created = open_or_join(session, clock, actor, complaint, action.title, rule_id)
        if incident is None:
            return None
        return ("启动应急事件" if created else "关联应急事件") + f"「{incident.title}」"
    return _subtask(session, clock, actor, complaint, action)


def _update(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, rule: str, **fields: object
) -> None:
    data = ComplaintUpdate.model_validate(
        {"version": complaint.version, "reason": f"规则「{rule}」", **fields}
    )
    service.update_complaint(session, clock, actor, complaint, data)


def _team(session: Session, code: str | None) -> Team | None:
    if not code:
        return None
    team = session.scalar(select(Team).where(Team.code == code))
    return team if team is not None and team.is_active else None


def _assign(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    action: act.Assign,
    rule: str,
) -> str | None:
    if action.only_if_unassigned and complaint.assignee_id is not None:
        return None
    code = action.team
    if code == act.CATEGORY_TEAM:
        code = complaint.category.team_code if complaint.category else None
        if not code:
            return None
    team = _team(session, code)
    if code and team is None:
        return f"{act.describe(action)}：团队 {code} 不存在或已停用，跳过"
    user = None
    if action.user:
        user = session.scalar(select(User).where(User.username == action.user))
        if user is None or not user.is_active:
            return f"{act.describe(action)}：用户 {action.user} 不存在或已停用，跳过"
    elif team is not None:
        user = pick(session, team, action.strategy, clock.now(), action.skills)
    if team is None and user is not None and user.team_id is not None:
        team = session.get(Team, user.team_id)
    same_team = team is None or team.id == complaint.team_id
    if same_team and (user is None or user.id == complaint.assignee_id):
        return None
    service.assign(
        session,
        clock,
        actor,
        complaint,
        version=complaint.version,
        team=team,
        assignee=user,
        reason=f"规则「{rule}」",
    )
    where = team.name if team else ""
    return f"分配给 {where}" + (f" / {user.label}" if user else "（团队待领取）")


def _subtask(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, action: act.CreateSubtask
) -> str | None:
    from kesu.tasks.service import create_task

    team = _team(session, action.team)
    if team is None:
        return f"{act.describe(action)}：团队 {action.team} 不存在或已停用，跳过"
    due = (
        _standard(session).add_business_time(clock.now(), timedelta(minutes=action.due_minutes))
        if action.due_minutes
        else None
    )
    task = create_task(
        session, clock, actor, complaint, kind="subtask", title=action.title, team=team, due_at=due
    )
    leads = Directory(session).leads(team.id) or Directory(session).managers(team.id)
    notice = Notice(
        event="task_created",
        complaint=complaint,
        extra={"task": task.title, "task_due": local_time(due)},
        quiet_calendar=_standard(session),
    )
    notify(session, clock, notice, leads)
    return act.describe(action)


def _standard(session: Session) -> BusinessCalendar:
    return standard_calendar(session)
