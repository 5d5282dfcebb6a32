"""Firing due SLA timers, and escalating complaints on a rule's say-so.

The worker calls ``fire_due`` in one transaction: it claims the due clocks (``kesu.sla.timers``:
on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so several workers split the due clocks between
them), re-arms them all with one statement, records one ``sla_alerts`` row per threshold
crossed (``INSERT … ON CONFLICT DO NOTHING`` on the unique key (complaint, kind,
deadline): an alert already recorded is never announced again), then announces each new alert
on the timeline, to the people of its level and as an escalation task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import service, timeline
from kesu.complaints.models import Complaint
from kesu.errors import KesuError
from kesu.notify.recipients import Directory
from kesu.notify.service import Notice, batched, notify
from kesu.notify.texts import local_time
from kesu.routing.engine import rules_running
from kesu.routing.facts import is_urgent
from kesu.sla import config, timers
from kesu.sla.milestones import STAGE, label
from kesu.sla.models import SlaAlert, SlaClock
from kesu.sla.service import KINDS, LEVEL_OF_KIND, WAKE, plan, sync
from kesu.tasks.service import create_task, insert_tasks, task_row
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

SLA_ACTOR = Actor("system", None, "时限监控 SLA")
# An escalated complaint with no team and no category team goes here (the front office).
ESCALATION_TEAM = "service"
PENDING_OWNER = "kesu_escalation_owner"
EVENT_OF_KIND = {
    "warning": "sla_warning",
    "breach": "sla_breach",
    "level2": "sla_level2",
    "level3": "sla_level3",
}
LEVEL_NAMES = {0: N_("预警"), 1: N_("一级"), 2: N_("二级"), 3: N_("三级")}


def fire_due(session: Session, clock: Clock, limit: int = 1000) -> tuple[int, int]:
    """Due timers, up to ``limit`` clocks; returns (clocks claimed, alerts announced).

    A sentinel's wake (``WAKE``) syncs its complaint, which stores the latent clock about to
    fire (kesu.sla.service); that clock is due at once, so the batch runs again for it."""
    claimed = announced = 0
    for _round in range(len(KINDS) + 1):
        found, fired, woken = _fire_batch(session, clock, limit)
        claimed, announced = claimed + found, announced + fired
        if not woken:
            break
        for complaint in woken:
            sync(session, clock, complaint, touch_complaint=False)
        session.flush()
    return claimed, announced


def _fire_batch(session: Session, clock: Clock, limit: int) -> tuple[int, int, list[Complaint]]:
    now = clock.now()
    rows = timers.claim(session, now, limit)
    if not rows:
        return 0, 0, []
    complaints = {
        c.id: c
        for c in session.scalars(
            select(Complaint).where(Complaint.id.in_({r.complaint_id for r in rows}))
        )
    }
    pending: list[tuple[SlaClock, str, dict[str, Any]]] = []
    woken: dict[int, Complaint] = {}
    for row in rows:
        kind = row.next_kind
        row.next_fire_at = None
        row.next_kind = None
        if row.status != "running" or row.complaint_id not in complaints:
            continue
        calendar = config.calendar(session, row.calendar_code)
        # A clock far past its deadline (the worker was down) crosses several thresholds at
        # once: record them all now, in order.
        while kind in KINDS:
            pending.append((row, kind, _alert(row, kind, now)))
            row.notified = max(row.notified, KINDS.index(kind) + 1)
            plan(row, calendar, now)
            due = row.next_fire_at
            kind = row.next_kind if due is not None and due <= now else None
        if kind == WAKE:  # the sync re-arms it
            woken[row.complaint_id] = complaints[row.complaint_id]
    # Re-armed before the announcements: an escalation may assign the complaint, whose SLA
    # sync then reads these clocks back from the database.
    timers.write(session, rows, now)
    fresh = _record(session, [alert for _, _, alert in pending])
    announcing = [
        (complaints[row.complaint_id], row, kind, alert)
        for row, kind, alert in pending
        if (alert["complaint_id"], alert["kind"]) in fresh
    ]
    _announce(session, clock, announcing)
    return len(rows), len(announcing), list(woken.values())


def _alert(row: SlaClock, kind: str, now: datetime) -> dict[str, Any]:
    return {
        "complaint_id": row.complaint_id,
        "clock_id": row.id,
        "kind": f"{kind}:{row.milestone}",
        "deadline": row.due_at or now,
        "level": 0 if row.milestone == STAGE else LEVEL_OF_KIND[kind],
        "fired_at": now,
    }


def _record(session: Session, alerts: list[dict[str, Any]]) -> set[tuple[int, str]]:
    """Inserts the alerts that are new; returns their (complaint, kind) keys."""
    if not alerts:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        # One statement with six array parameters, whatever the number of alerts.
        columns = {key: [a[key] for a in alerts] for key in alerts[0]}
        found = session.execute(_UNNEST_ALERTS, columns)
    else:
        stmt = (
            sqlite.insert(cast(Table, SlaAlert.__table__))
            .on_conflict_do_nothing(index_elements=["complaint_id", "kind", "deadline"])
            .returning(SlaAlert.__table__.c.complaint_id, SlaAlert.__table__.c.kind)
        )
        found = session.execute(stmt, alerts)
    return {(r.complaint_id, r.kind) for r in found}


_UNNEST_ALERTS = text(
    "INSERT INTO sla_alerts (complaint_id, clock_id, kind, deadline, level, fired_at) "
    "SELECT * FROM unnest(CAST(:complaint_id AS integer[]), CAST(:clock_id AS integer[]), "
    "CAST(:kind AS varchar[]), CAST(:deadline AS timestamptz[]), CAST(:level AS integer[]), "
    "CAST(:fired_at AS timestamptz[])) "
    "ON CONFLICT (complaint_id, kind, deadline) DO NOTHING RETURNING complaint_id, kind"
)


def _announce(
    session: Session,
    clock: Clock,
    alerts: list[tuple[Complaint, SlaClock, str, dict[str, Any]]],
) -> None:
    """The timeline events, notifications and escalation tasks of new alerts, written with a
    few multi-row INSERTs whatever their number."""
    directory = Directory(session)
    entries = []
    tasks: list[dict[str, Any]] = []
    with session.no_autoflush, batched(session):
        for complaint, row, kind, alert in alerts:
            deadline = alert["deadline"]
            entries.append(_one(session, clock, directory, complaint, row, kind, deadline, tasks))
    timeline.record_many(session, clock, SLA_ACTOR, entries)
    insert_tasks(session, tasks)


def _one(
    session: Session,
    clock: Clock,
    directory: Directory,
    complaint: Complaint,
    row: SlaClock,
    kind: str,
    deadline: datetime,
    tasks: list[dict[str, Any]],
) -> tuple[Complaint, str, str, dict[str, Any]]:
    stage_limit = row.milestone == STAGE  # a reminder to the handler, never an escalation
    level = 0 if stage_limit else LEVEL_OF_KIND[kind]
    event = EVENT_OF_KIND[kind]
    name = label(row.milestone)
    due = local_time(deadline)
    if kind == "warning":
        body = f"{name}即将到期：时限 {due}"
    elif stage_limit:
        event, body = "stage_overdue", f"当前阶段已超过时限（{due}）"
    else:
        body = f"{name}已超时（时限 {due}），升级至{LEVEL_NAMES[level]}"
    if level >= 1:
        ensure_owner(session, clock, directory, complaint, level)
    if kind == "warning" or stage_limit:
        people = directory.resolve(complaint, ["assignee"])
    elif kind == "breach":
        people = directory.resolve(complaint, ["assignee"]) + directory.for_level(complaint, 1)
    else:
        people = directory.for_level(complaint, level)
    policy = config.policy_by_id(session, row.policy_id)
    quiet = config.calendar(session, policy.notify_calendar_code if policy else "standard")
    extra = {
        "milestone": {"zh_CN": name, "en": label(row.milestone, "en")},
        "due": due,
        "level": level,
    }
    notice = Notice(
        event=event,
        complaint=complaint,
        key=f"sla:{complaint.id}:{kind}:{row.milestone}:{int(deadline.timestamp())}",
        extra=extra,
        urgent=is_urgent(complaint),
        quiet_calendar=quiet,
    )
    notify(session, clock, notice, people)
    if level >= 1:
        owners = directory.for_level(complaint, level)
        tasks.append(
            task_row(
                clock,
                SLA_ACTOR,
                complaint,
                kind="escalation",
                title=f"{LEVEL_NAMES[level]}升级：{complaint.number} {name}超时",
                team=complaint.team if level == 1 else None,
                assignee=owners[0] if owners else None,
                level=level,
            )
        )
    data = {"milestone": row.milestone, "deadline": deadline.isoformat(), "level": level}
    return complaint, event, body, data


def _task(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    level: int,
    reason: str,
    people: list[User],
) -> None:
    owner = people[0] if people else None
    create_task(
        session,
        clock,
        SLA_ACTOR,
        complaint,
        kind="escalation",
        title=f"{LEVEL_NAMES[level]}升级：{complaint.number} {reason}",
        team=complaint.team if level == 1 else None,
        assignee=owner,
        level=level,
        record=False,
    )


def escalate(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    level: int,
    source: str,
    reason: str,
) -> bool:
    """Escalates ``complaint`` to ``level`` at once (a rule: risk words → executives).

    Once per complaint and ``source``: the alert's deadline is the complaint's arrival, so the
    unique key refuses a second one. Returns whether it escalated now.
    """
    if complaint.id is None:
        session.flush()
    kind = f"{source}:level{level}"[:64]
    exists = session.scalar(
        select(SlaAlert.id).where(SlaAlert.complaint_id == complaint.id, SlaAlert.kind == kind)
    )
    if exists is not None:
        return False
    now = clock.now()
    session.add(
        SlaAlert(
            complaint_id=complaint.id,
            clock_id=None,
            kind=kind,
            deadline=complaint.received_at,
            level=level,
            fired_at=now,
        )
    )
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        "escalated",
        body=f"升级至{LEVEL_NAMES[level]}：{reason}",
        data={"level": level, "source": source, "reason": reason},
        audit={"level": level, "source": source},
    )
    directory = Directory(session)
    if rules_running(session):  # the rules after this one may still route it: own it after them
        session.info.setdefault(PENDING_OWNER, {})[complaint.id] = level
    else:
        ensure_owner(session, clock, directory, complaint, level)
    people = directory.for_level(complaint, level)
    notice = Notice(
        event="escalated",
        complaint=complaint,
        key=f"esc:{complaint.id}:{kind}",
        extra={"level": level, "rule": reason},
        urgent=True,
    )
    notify(session, clock, notice, people)
    _task(session, clock, complaint, level, reason, people)
    return True


def ensure_owner(
    session: Session, clock: Clock, directory: Directory, complaint: Complaint, level: int
) -> bool:
    """An escalated complaint must be someone's: with no team it goes to its category's team
    (or ``ESCALATION_TEAM``), with no assignee to that team's lead, else to the person it is
    escalated to. Through the complaint service, so it is on the timeline. Returns whether it
    assigned."""
    if not complaint.is_open or (complaint.team_id is not None and complaint.assignee_id):
        return False
    team = complaint.team or _fallback_team(session, complaint)
    owner = complaint.assignee
    if owner is not None:  # keep the handler; the complaint only needs a team
        if owner.team_id is not None and team is not None and owner.team_id != team.id:
            team = None  # the assignee's own team, set by the service
    else:
        candidates = [*directory.leads(team.id if team else None)]
        candidates += directory.for_level(complaint, level)
        owner = next(
            (u for u in candidates if u.team_id is None or team is None or u.team_id == team.id),
            None,
        )
    if team is None and owner is None:
        return False
    reason = _("升级至%(level)s，需要有人负责") % {"level": _(LEVEL_NAMES[level])}
    try:
        service.assign(
            session,
            clock,
            SLA_ACTOR,
            complaint,
            version=complaint.version,
            team=team,
            assignee=owner,
            reason=reason,
        )
    except KesuError:  # e.g. the owner was deactivated: the escalation itself still stands
        return False
    return True


def settle_pending_owners(session: Session, clock: Clock, complaint: Complaint) -> None:
    """After the rules ran: owners for the complaint's escalations (see ``escalate``)."""
    level = session.info.get(PENDING_OWNER, {}).pop(complaint.id, None)
    if level is not None:
        ensure_owner(session, clock, Directory(session), complaint, level)


def _fallback_team(session: Session, complaint: Complaint) -> Team | None:
    category = complaint.category
    code = (category.team_code if category else None) or ESCALATION_TEAM
    return session.scalar(select(Team).where(Team.code == code, Team.is_active))


def level_of(session: Session, complaint: Complaint) -> int:
    """The complaint's escalation level: the highest alert level it has reached."""
    levels = session.scalars(select(SlaAlert.level).where(SlaAlert.complaint_id == complaint.id))
    return max(levels, default=0)
