"""Deadline arithmetic for one milestone clock (e.g. "first response within 60 business minutes").

A clock runs on a business calendar from ``started_at`` and stops counting during pauses (while
waiting for the customer's confirmation, say). Everything here is pure: the SLA service stores the
results (``due_at``, ``warn_at``) as indexed timer columns and the worker compares them with now.

A pause with ``end=None`` is still open: the clock is stopped, so there is no due time yet
(``due_at`` returns ``None`` and the timer row should hold NULL until the pause ends) — unless
the target was already used up before the pause began: a breached clock stays breached.

A moment further away than the calendar's ``MAX_SPAN`` (ten years: a 366-day target at the
highest escalation level, say) is also ``None``: no timer is armed for it, rather than the
calendar walking on or the worker pass failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kesu.sla.calendar import BusinessCalendar, CalendarRangeError


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None = None  # None: still paused

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError("pause ends before it starts")


@dataclass(frozen=True)
class MilestoneClock:
    target_minutes: int  # business minutes allowed for the milestone
    started_at: datetime
    pauses: tuple[Pause, ...] = field(default=())
    warn_percent: int = 80  # warn when this share of the target is used up

    def __post_init__(self) -> None:
        if self.target_minutes < 0:
            raise ValueError("target_minutes must not be negative")
        if not 0 < self.warn_percent <= 100:
            raise ValueError("warn_percent must be between 1 and 100")

    @property
    def target(self) -> timedelta:
        return timedelta(minutes=self.target_minutes)

    @property
    def warn_after(self) -> timedelta:
        """Business time after which the warning fires (whole seconds, for stable timers)."""
        return timedelta(seconds=self.target_minutes * 60 * self.warn_percent // 100)

    @property
    def is_paused(self) -> bool:
        return any(p.end is None for p in self.pauses)


def due_at(clock: MilestoneClock, calendar: BusinessCalendar) -> datetime | None:
    """When the target is used up; ``None`` while paused short of it."""
    return _moment_after(clock, calendar, clock.target)


def warn_at(clock: MilestoneClock, calendar: BusinessCalendar) -> datetime | None:
    """When ``warn_percent`` of the target is used up; ``None`` while paused short of it."""
    return _moment_after(clock, calendar, clock.warn_after)


def time_at(
    clock: MilestoneClock, calendar: BusinessCalendar, amount: timedelta
) -> datetime | None:
    """When ``amount`` of business time has been counted (escalation levels beyond the target);
    ``None`` while paused short of it."""
    return _moment_after(clock, calendar, amount)


def elapsed(clock: MilestoneClock, calendar: BusinessCalendar, at: datetime) -> timedelta:
    """Business time the clock has counted by ``at`` (pauses excluded)."""
    total = timedelta(0)
    for run_start, run_end in _running_spans(clock):
        if run_start >= at:
            break
        end = at if run_end is None else min(run_end, at)
        total += calendar.business_time_between(run_start, end)
    return total


def remaining(clock: MilestoneClock, calendar: BusinessCalendar, at: datetime) -> timedelta:
    """Business time left at ``at``; negative once overdue (by how much business time)."""
    return clock.target - elapsed(clock, calendar, at)


def is_warning(clock: MilestoneClock, calendar: BusinessCalendar, at: datetime) -> bool:
    return elapsed(clock, calendar, at) >= clock.warn_after


def is_breached(clock: MilestoneClock, calendar: BusinessCalendar, at: datetime) -> bool:
    """Whether the target is used up at ``at``.

    Compared by counted time rather than ``at >= due_at`` so it also holds while paused; the two
    agree otherwise (a deadline reached at Friday 18:00 is breached all weekend).
    """
    return elapsed(clock, calendar, at) >= clock.target


def _moment_after(
    clock: MilestoneClock, calendar: BusinessCalendar, amount: timedelta
) -> datetime | None:
    left = amount
    try:
        for run_start, run_end in _running_spans(clock):
            if run_end is None:
                return calendar.add_business_time(run_start, left)
            available = calendar.business_time_between(run_start, run_end)
            if left <= available:
                return calendar.add_business_time(run_start, left)
            left -= available
    except CalendarRangeError:
        return None  # more than ten years away: no timer (see the module docstring)
    return None  # the last span ended in an open pause


def _running_spans(clock: MilestoneClock) -> Iterator[tuple[datetime, datetime | None]]:
    """The spans in which the clock runs, in order; the last one is open-ended (``None``)
    unless the clock is currently paused."""
    cursor: datetime | None = clock.started_at
    for pause_start, pause_end in _merged_pauses(clock.pauses, clock.started_at):
        assert cursor is not None  # an open pause is always the last one merged
        if pause_start > cursor:
            yield cursor, pause_start
        cursor = pause_end
    if cursor is not None:
        yield cursor, None


def _merged_pauses(
    pauses: Iterable[Pause], not_before: datetime
) -> list[tuple[datetime, datetime | None]]:
    """Pauses sorted, clipped to the clock's start and merged where they overlap, so a pause
    recorded twice (or overlapping another) is not subtracted twice."""
    merged: list[tuple[datetime, datetime | None]] = []
    for pause in sorted(pauses, key=lambda p: p.start):
        start = max(pause.start, not_before)
        if pause.end is not None and pause.end <= start:
            continue  # entirely before the clock started
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last_start, last_end = merged[-1]
            end = None if last_end is None or pause.end is None else max(last_end, pause.end)
            merged[-1] = (last_start, end)
        else:
            merged.append((start, pause.end))
    return merged
