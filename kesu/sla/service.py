"""Keeping a complaint's SLA clocks in step with the complaint, inside the caller's transaction.

``sync`` is called (through the complaint event listener) after every change that can start,
stop, pause or re-target a clock. It is idempotent: it derives the clocks the complaint should
have from its current state and policy, and brings the rows there. ``complaints.due_at``
becomes the earliest deadline of a running clock (Zammad's ``escalation_at``), so the overdue
list and the workbench read one indexed column.

**Only the clocks that need a row have one.** A new complaint under the standard policy has
five clocks, but until something happens to them four are pure functions of the complaint
(started at its arrival or at its stage entry, never paused, never alerted, on the current
policy). Those are *latent*: derived on every sync (``derive``), shown by the API, counted in
``due_at``, but not stored. A clock gets a row when it must remember something — met or
stopped, paused, started at a moment the complaint does not record (a reopen) — or when its
first threshold comes before every stored timer of the complaint (it is about to fire). One
stored running clock, the *sentinel*, carries ``wake_at``: the first threshold of the latent
clocks. Its timer fires at ``min(its own next threshold, wake_at)``; when it is the wake
(``next_kind = WAKE``), the worker syncs the complaint, which stores the clock about to fire.
A new complaint is registered with one or two clock rows instead of five.
"""

from __future__ import annotations

from collections.abc import Iterable
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
WAKE = "wake"  # next_kind of a sentinel whose timer is the latent clocks' first threshold
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
    # The latent clocks of the policy the stored clocks run on, which stop now (closing,
    # merging, another policy): they get a row, met or cancelled, like a stored one.
    before = _running_policy(session, rows.values())
    stopping = {}
    for key, want in _wanted(before, complaint, stage).items():
        if key not in rows and key not in wanted:
            stopping[key] = _new_clock(complaint, want, key[1], now)
            _retarget(stopping[key], want, config.calendar(session, want.policy.calendar_code))
    for row in rows.values():
        row.wake_at = None  # set again below, on whichever clock carries it now
    for key, row in [*rows.items(), *stopping.items()]:
        if row.status in OPEN_STATES and key not in wanted:
            _stop(row, complaint, stage, stages, now, session)
    for key, row in stopping.items():
        _store(complaint, row)
        rows[key] = row
    latent: dict[tuple[str, int], SlaClock] = {}
    for key, want in wanted.items():
        found = rows.get(key)
        if found is None:
            found = latent[key] = _new_clock(complaint, want, key[1], now)
        _update(session, found, want, complaint, stage, stages, now)
    for key in _to_store(complaint, rows, latent, now):
        _store(complaint, latent[key])
        rows[key] = latent.pop(key)
    _set_wake(session, rows.values(), latent.values(), now)
    everything = [*rows.values(), *latent.values()]
    due = min((r.due_at for r in everything if r.status in OPEN_STATES and r.due_at), default=None)
    if complaint.due_at != due:
        if touch_complaint:
            complaint.due_at = due
        else:
            table = cast(Table, Complaint.__table__)
            session.execute(update(table).where(table.c.id == complaint.id).values(due_at=due))


def derive(session: Session, complaint: Complaint, now: datetime) -> list[SlaClock]:
    """Every clock of the complaint, stored and latent (the latent ones as transient objects,
    never added to the session), by cycle: what the API shows. Reads only."""
    stages = {s.code: s for s in active_stages(session)}
    stage = stages.get(complaint.stage)
    stored = sorted(clocks_of(complaint), key=lambda r: (r.cycle, r.id or 0))
    if not complaint.is_open:
        return stored
    have = {(r.milestone, r.cycle) for r in stored}
    latent = []
    for key, want in _wanted(select_policy(session, complaint), complaint, stage).items():
        if key not in have:
            row = _new_clock(complaint, want, key[1], now)
            _update(session, row, want, complaint, stage, stages, now)
            latent.append(row)
    return sorted([*stored, *latent], key=lambda r: r.cycle)


def _store(complaint: Complaint, row: SlaClock) -> None:
    """A latent clock gets its row (inserted with the complaint's next flush)."""
    getattr(complaint, "sla_clocks").append(row)  # noqa: B009 — the backref mypy cannot see


def _running_policy(session: Session, rows: Iterable[SlaClock]) -> PolicySpec | None:
    """The policy the complaint's stored running clocks are on (None: no clock runs)."""
    policy_id = next((r.policy_id for r in rows if r.status in OPEN_STATES and r.policy_id), None)
    return config.policy_by_id(session, policy_id) if policy_id is not None else None


def _derivable(row: SlaClock, complaint: Complaint) -> bool:
    """Whether the clock's start is a column of the complaint (so it can stay latent)."""
    milestone = MILESTONES[row.milestone]
    if milestone.starts == "stage":
        return row.started_at == complaint.stage_entered_at
    if milestone.starts == "resolved":
        return row.started_at == complaint.resolved_at
    return row.cycle == 0 and row.started_at == complaint.received_at


def _to_store(
    complaint: Complaint,
    rows: dict[tuple[str, int], SlaClock],
    latent: dict[tuple[str, int], SlaClock],
    now: datetime,
) -> list[tuple[str, int]]:
    """The latent clocks that need a row now (see the module docstring)."""
    store = [
        key
        for key, row in latent.items()
        if row.status != "running"  # met, stopped or paused: it has something to remember
        or (row.next_fire_at is not None and row.next_fire_at <= now)  # due already
        or not _derivable(row, complaint)
    ]
    rest = sorted(
        (k for k in latent if k not in store),
        key=lambda k: (latent[k].next_fire_at is None, latent[k].next_fire_at or now),
    )
    running = [r for r in rows.values() if r.status == "running"]
    running += [latent[k] for k in store if latent[k].status == "running"]
    if not running and rest:  # someone must carry the wake: the earliest latent clock
        store.append(rest.pop(0))
        running.append(latent[store[-1]])
    # Stored timers are the clocks' own here (the wake is set afterwards, by _set_wake).
    fires = [r.next_fire_at for r in running if r.next_fire_at is not None]
    if fires:  # a latent clock that would fire before every stored timer: store it now
        horizon = min(fires)
        store += [k for k in rest if (latent[k].next_fire_at or horizon) < horizon]
    return store


def _set_wake(
    session: Session, rows: Iterable[SlaClock], latent: Iterable[SlaClock], now: datetime
) -> None:
    """Puts the latent clocks' first threshold on one stored running clock (the sentinel):
    the one whose own timer comes first."""
    wake = min((r.next_fire_at for r in latent if r.next_fire_at is not None), default=None)
    if wake is None:
        return
    running = sorted(
        (r for r in rows if r.status == "running"),
        key=lambda r: (r.next_fire_at is None, r.next_fire_at or now, r.milestone),
    )
    if running:
        running[0].wake_at = wake
        plan(running[0], config.calendar(session, running[0].calendar_code), now)


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
    """A transient clock: it gets its row only through ``_store``."""
    return SlaClock(
        complaint_id=complaint.id,
        wake_at=None,
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
    fire, kind = None, None
    if done < len(steps):
        fire = time_at(mc, calendar, steps[done][1])
        kind = steps[done][0] if fire else None
    if row.wake_at is not None and (fire is None or row.wake_at < fire):
        fire, kind = row.wake_at, WAKE  # a latent clock's threshold comes first
    row.next_fire_at = fire
    row.next_kind = kind
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
