"""Keeping a complaint's SLA clocks in step with the complaint, inside the caller's transaction.

``sync`` is called (through the complaint event listener) after every change that can start,
stop, pause or re-target a clock. It is idempotent: it derives the clocks the complaint should
have from its current state and policy, and brings the rows there. ``complaints.due_at``
becomes the earliest deadline of a running clock (Zammad's ``escalation_at``), so the overdue
list and the workbench read one indexed column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, update
from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.complaints.enums import StageCategory
from kesu.complaints.models import Complaint, ComplaintEvent, Stage
from kesu.routing.conditions import matches
from kesu.routing.facts import ComplaintFacts
from kesu.sla import config
from kesu.sla.calendar import BusinessCalendar
from kesu.sla.config import PolicySpec, Target
from kesu.sla.deadlines import MilestoneClock, Pause, due_at, elapsed, time_at
from kesu.sla.milestones import MILESTONES, STAGE, Milestone, met_at
from kesu.sla.models import SlaClock
from kesu.taxonomy.service import active_stages

# The events after which clocks may start, stop, pause or change target. Notes, customer
# messages, rule firings and SLA alerts themselves never move a clock.
SYNC_EVENTS = frozenset(
    {
        "created",
        "updated",
        "stage_changed",
        "message",
        "reopened",
        "merged_into",
        "assigned",
    }
)
OPEN_STATES = ("running", "paused")
KINDS = ("warning", "breach", "level2", "level3")
LEVEL_OF_KIND = {"warning": 0, "breach": 1, "level2": 2, "level3": 3}


def clocks_of(complaint: Complaint) -> list[SlaClock]:
    """The complaint's clocks, pending ones included (before the complaint's first flush)."""
    return list(getattr(complaint, "sla_clocks"))  # noqa: B009 — a backref mypy cannot see


def standard_calendar(session: Session) -> BusinessCalendar:
    return config.calendar(session, config.DEFAULT_CALENDAR)


def on_event(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    """The complaint event listener (see ``kesu.wiring``)."""
    from kesu.routing.engine import rules_running

    if event.kind in SYNC_EVENTS and not rules_running(session):
        sync(session, clock, complaint)


def select_policy(session: Session, complaint: Complaint) -> PolicySpec | None:
    """The first active policy whose conditions match. Time fields (period, time of day) are
    read at the complaint's arrival, so the choice does not drift as the days pass."""
    facts = ComplaintFacts(session, complaint, complaint.received_at)
    return next((p for p in config.active_policies(session) if matches(p.condition, facts)), None)


@dataclass(frozen=True)
class _Wanted:
    milestone: Milestone
    target: Target
    policy: PolicySpec


def sync(
    session: Session, clock: Clock, complaint: Complaint, touch_complaint: bool = True
) -> None:
    """Brings the complaint's clocks and ``due_at`` up to date with its current state.

    ``touch_complaint=False`` (the worker's re-targeting sweep) writes ``due_at`` with a plain
    UPDATE so the complaint's version does not change under someone's open form.
    """
    now = clock.now()
    stages = {s.code: s for s in active_stages(session)}
    stage = stages.get(complaint.stage)
    policy = select_policy(session, complaint) if complaint.is_open else None
    wanted = _wanted(policy, complaint, stage)
    rows = {(row.milestone, row.cycle): row for row in clocks_of(complaint)}
    for key, row in rows.items():
        if row.status in OPEN_STATES and key not in wanted:
            _stop(row, complaint, stage, stages, now, session)
    for key, want in wanted.items():
        found = rows.get(key)
        if found is None:
            found = _new_clock(complaint, want, key[1], now)
            session.add(found)
            rows[key] = found
        _update(session, found, want, complaint, stage, stages, now)
    due = min(
        (r.due_at for r in rows.values() if r.status in OPEN_STATES and r.due_at), default=None
    )
    if complaint.due_at != due:
        if touch_complaint:
            complaint.due_at = due
        else:
            table = cast(Table, Complaint.__table__)
            session.execute(update(table).where(table.c.id == complaint.id).values(due_at=due))


def _wanted(
    policy: PolicySpec | None, complaint: Complaint, stage: Stage | None
) -> dict[tuple[str, int], _Wanted]:
    if policy is None:
        return {}
    wanted = {}
    for code, target in policy.targets.items():
        milestone = MILESTONES[code]
        if milestone.starts == "resolved" and complaint.resolved_at is None:
            continue
        cycle = complaint.reopen_count if milestone.restarts_on_reopen else 0
        wanted[(code, cycle)] = _Wanted(milestone, target, policy)
    if (
        policy.stage_limits
        and stage is not None
        and stage.time_limit_minutes
        and stage.category in (StageCategory.open, StageCategory.waiting)
    ):
        target = Target(minutes=stage.time_limit_minutes)
        wanted[(STAGE, 0)] = _Wanted(MILESTONES[STAGE], target, policy)
    return wanted


def _start_of(milestone: Milestone, complaint: Complaint, cycle: int, now: datetime) -> datetime:
    if milestone.starts == "stage":
        return complaint.stage_entered_at
    if milestone.starts == "resolved":
        return complaint.resolved_at or now
    return complaint.received_at if cycle == 0 else now


def _new_clock(complaint: Complaint, want: _Wanted, cycle: int, now: datetime) -> SlaClock:
    return SlaClock(
        complaint=complaint,
        milestone=want.milestone.code,
        cycle=cycle,
        policy_id=None,
        policy_version=0,
        calendar_code=want.policy.calendar_code,
        target_minutes=0,
        warn_percent=want.policy.warn_percent,
        level_percents=list(want.policy.level_percents),
        started_at=_start_of(want.milestone, complaint, cycle, now),
        pauses=[],
        status="running",
        breached=False,
        notified=0,
        updated_at=now,
    )


def _update(
    session: Session,
    row: SlaClock,
    want: _Wanted,
    complaint: Complaint,
    stage: Stage | None,
    stages: dict[str, Stage],
    now: datetime,
) -> None:
    if row.milestone == STAGE and row.started_at != complaint.stage_entered_at:
        _reset(row, complaint.stage_entered_at)  # a new stage: a new stage clock
    if row.status == "met":
        return
    calendar = config.calendar(session, want.policy.calendar_code)
    _retarget(row, want, calendar)
    met = met_at(want.milestone, complaint, stage, stages, want.target.until_stage, now)
    if met is not None:
        _mark_met(row, calendar, max(met, row.started_at), now)
        return
    waiting = stage is not None and stage.category == StageCategory.waiting
    _set_pause(row, waiting, now)
    plan(row, calendar, now)


def _reset(row: SlaClock, started_at: datetime) -> None:
    row.started_at = started_at
    row.pauses = []
    row.status = "running"
    row.met_at = None
    row.breached = False
    row.notified = 0
    row.policy_version = 0  # re-target from the new stage's limit


def _retarget(row: SlaClock, want: _Wanted, calendar: BusinessCalendar) -> None:
    """A new clock, another policy, an edited policy or a new stage: take the targets. Elapsed
    time (start and pauses) is kept, so a re-targeted clock is judged by its whole history."""
    policy = want.policy
    same = row.policy_id == policy.id and row.policy_version == policy.version
    if same and row.status != "cancelled":
        return
    row.policy_id = policy.id
    row.policy_version = policy.version
    row.calendar_code = policy.calendar_code
    row.warn_percent = policy.warn_percent
    row.level_percents = list(policy.level_percents)
    row.target_minutes = target_minutes(want.target, row.started_at, calendar)
    if row.status == "cancelled":
        row.status = "running"


def target_minutes(target: Target, start: datetime, calendar: BusinessCalendar) -> int:
    if target.minutes is not None:
        return target.minutes
    days = target.working_days or 0
    span = calendar.business_time_between(start, calendar.add_working_days(start, days))
    return max(1, int(span.total_seconds() // 60))


def _stop(
    row: SlaClock,
    complaint: Complaint,
    stage: Stage | None,
    stages: dict[str, Stage],
    now: datetime,
    session: Session,
) -> None:
    """A clock no longer wanted: met if its milestone is reached, otherwise cancelled (the
    complaint was closed unmet or merged, the policy no longer applies, or it was reopened)."""
    milestone = MILESTONES.get(row.milestone)
    merged = complaint.merged_into_id is not None  # a duplicate: nothing was achieved on it
    met = (
        met_at(milestone, complaint, stage, stages, None, now) if milestone and not merged else None
    )
    if met is not None and row.milestone != STAGE:
        _mark_met(row, config.calendar(session, row.calendar_code), max(met, row.started_at), now)
    elif row.milestone == STAGE and row.started_at != complaint.stage_entered_at:
        _mark_met(row, config.calendar(session, row.calendar_code), now, now)  # stage left
    else:
        row.status = "cancelled"
        row.next_fire_at = None
        row.next_kind = None
        row.updated_at = now


def _mark_met(row: SlaClock, calendar: BusinessCalendar, met: datetime, now: datetime) -> None:
    _set_pause(row, False, met)
    counted = elapsed(_clock(row), calendar, met)
    row.status = "met"
    row.met_at = met
    row.breached = row.breached or counted > timedelta(minutes=row.target_minutes)
    row.due_at = due_at(_clock(row), calendar)
    row.next_fire_at = None
    row.next_kind = None
    row.updated_at = now


def _set_pause(row: SlaClock, waiting: bool, now: datetime) -> None:
    pauses = [list(p) for p in row.pauses or []]
    is_open = bool(pauses) and pauses[-1][1] is None
    if waiting and not is_open:
        pauses.append([now.isoformat(), None])
    elif not waiting and is_open:
        pauses[-1][1] = max(now, datetime.fromisoformat(pauses[-1][0])).isoformat()
    else:
        return
    row.pauses = pauses


def _clock(row: SlaClock) -> MilestoneClock:
    pauses = tuple(
        Pause(datetime.fromisoformat(s), datetime.fromisoformat(e) if e else None)
        for s, e in row.pauses or []
    )
    return MilestoneClock(
        target_minutes=row.target_minutes,
        started_at=row.started_at,
        pauses=pauses,
        warn_percent=min(100, max(1, row.warn_percent)),
    )


def thresholds(row: SlaClock) -> list[tuple[str, timedelta]]:
    """(kind, business time counted) at which each alert of the clock fires, in order."""
    seconds = row.target_minutes * 60
    percents = [row.warn_percent, 100]
    if MILESTONES[row.milestone].escalates:
        percents += list(row.level_percents or [])[:2]
    return [
        (kind, timedelta(seconds=seconds * pct // 100))
        for kind, pct in zip(KINDS, percents, strict=False)
    ]


def plan(row: SlaClock, calendar: BusinessCalendar, now: datetime) -> None:
    """Sets ``due_at`` and the timer (``next_fire_at``/``next_kind``) of a running clock.

    A threshold already alerted stays alerted while it is still crossed; if an edit moved it
    back into the future (a longer target), it is armed again and alerts again when reached.
    """
    mc = _clock(row)
    row.status = "paused" if mc.is_paused else "running"
    row.due_at = due_at(mc, calendar)
    counted = elapsed(mc, calendar, now)
    steps = thresholds(row)
    done = min(row.notified, len(steps))
    for index in range(done):
        if counted < steps[index][1]:
            done = index
            break
    row.notified = done
    if done < len(steps):
        row.next_fire_at = time_at(mc, calendar, steps[done][1])
        row.next_kind = steps[done][0] if row.next_fire_at else None
    else:
        row.next_fire_at = None
        row.next_kind = None
    row.breached = row.breached or counted >= mc.target
    row.updated_at = now


def silence_past(row: SlaClock, calendar: BusinessCalendar, now: datetime) -> None:
    """Marks the thresholds a running clock has already crossed as alerted (clocks created for
    data loaded in bulk: nobody is paged about the past), then re-arms it."""
    if row.status not in OPEN_STATES:
        return
    counted = elapsed(_clock(row), calendar, now)
    row.notified = sum(1 for _, amount in thresholds(row) if counted >= amount)
    plan(row, calendar, now)


def remaining(row: SlaClock, calendar: BusinessCalendar, now: datetime) -> timedelta:
    return timedelta(minutes=row.target_minutes) - elapsed(_clock(row), calendar, now)
