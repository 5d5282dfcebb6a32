"""Business calendar: which instants count towards an SLA, and arithmetic over them.

A calendar is an immutable value built from a JSON-able config dict (stored in the database and
edited by the admin), so it can be shared between threads and cached freely::

    BusinessCalendar.from_config({
        "timezone": "Asia/Shanghai",
        "mode": "business",                  # or "24x7": every instant is business time
        "hours": {"mon": [["09:00", "12:00"], ["13:30", "18:00"]], ...},  # missing day = closed
        "workday_hours": [["09:00", "18:00"]],  # hours of 调休 / extra working days
        "holidays": ["2026-12-24"],          # extra closed days added by the admin
        "workdays": ["2026-12-26"],          # extra working days added by the admin
        "use_statutory": true,               # Chinese statutory holidays and 调休 days
    })

How a local date is classified, first match wins:

1. an admin holiday → closed; an admin working day → ``workday_hours``;
2. with ``use_statutory`` and data for that year in the ``chinese_calendar`` package: a statutory
   holiday → closed; an adjusted working day (调休, e.g. a Saturday) → ``workday_hours``;
3. otherwise the weekday's ``hours``.

When ``chinese_calendar`` has no data for a year (the State Council publishes next year's
schedule each November; upgrade the package then), step 2 is skipped and the weekday rules apply
instead of raising. ``has_statutory_data(year)`` lets the admin UI warn about it, and the admin
can bridge the gap with ``holidays``/``workdays``.

All public methods take and return timezone-aware datetimes and return UTC; the local time zone
is only used to lay business hours onto the time line. Durations are real elapsed time, so DST
zones work too. Arithmetic walks whole open intervals day by day (never minute by minute) and
jumps an ordinary week (no holiday, working day or offset change in it) in one step, using the
week's precomputed business time; so a span costs O(days / 7 + special days) steps.

Every computation is bounded: one covers at most ``MAX_SPAN`` (about ten years).
``add_business_time`` and ``add_working_days`` raise ``CalendarRangeError`` when the answer
lies further away; ``business_time_between`` counts only the last ``MAX_SPAN`` of a longer
span (a clock that has run for ten years is long breached whatever its target). ``walk_steps()``
counts the steps taken, for tests and benchmarks.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from importlib import resources
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MODES = ("business", "24x7")
_CONFIG_KEYS = frozenset(
    ("timezone", "mode", "hours", "workday_hours", "holidays", "workdays", "use_statutory")
)

# An open interval within one local day: minutes after local midnight, [start, end), end <= 1440.
Interval = tuple[int, int]
DayHours = tuple[Interval, ...]

_NINE_TO_SIX: DayHours = ((9 * 60, 18 * 60),)
_DEFAULT_WEEK: tuple[DayHours, ...] = (_NINE_TO_SIX,) * 5 + ((), ())

# Read the package's tables once: chinese_calendar.is_workday() re-validates the year range on
# every call, which is needlessly slow inside our day loop.
_STATUTORY_HOLIDAYS = frozenset(chinese_calendar.holidays)
_STATUTORY_WORKDAYS = frozenset(chinese_calendar.workdays)
_STATUTORY_YEARS = frozenset(d.year for d in _STATUTORY_HOLIDAYS)

# The longest span one computation covers (see the module docstring); also the safety net
# against calendars that never open: no real calendar has ten years without a business hour.
MAX_SPAN = timedelta(days=3660)
_WEEK = timedelta(days=7)
_DAY = timedelta(days=1)
_steps = [0]  # days walked plus weeks jumped, process-wide (read by walk_steps())


def walk_steps() -> int:
    """How many calendar steps (a day walked, or an ordinary week jumped) this process has
    taken so far; the difference around a computation is its cost."""
    return _steps[0]


_HHMM = re.compile(r"^(\d{2}):(\d{2})$")


class CalendarConfigError(ValueError):
    """A calendar config is invalid; the message names the offending field."""


class CalendarRangeError(ValueError):
    """A computation would cover more than ``MAX_SPAN`` of calendar time."""


def has_statutory_data(year: int) -> bool:
    """Whether the installed ``chinese_calendar`` knows the holidays and 调休 days of ``year``."""
    return year in _STATUTORY_YEARS


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "Asia/Shanghai"
    week: tuple[DayHours, ...] = _DEFAULT_WEEK  # index 0 = Monday, as date.weekday()
    workday_hours: DayHours = _NINE_TO_SIX
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    use_statutory: bool = True
    always_open: bool = False

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if len(self.week) != 7:
            raise CalendarConfigError("hours: need exactly 7 weekdays")
        if not self.always_open and not any(self.week):
            raise CalendarConfigError("hours: at least one weekday needs business hours")
        both = self.holidays & self.workdays
        if both:
            raise CalendarConfigError(f"workdays: {min(both)} is also listed in holidays")

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BusinessCalendar:
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise CalendarConfigError(f"{sorted(unknown)[0]}: unknown calendar setting")
        mode = config.get("mode", "business")
        if mode not in MODES:
            raise CalendarConfigError(f"mode: must be one of {', '.join(MODES)}")
        week = _parse_week(config["hours"]) if "hours" in config else _DEFAULT_WEEK
        if "workday_hours" in config:
            workday_hours = _parse_day(config["workday_hours"], "workday_hours")
        else:
            # A 调休 Saturday is worked like a normal weekday; Monday's hours are the best guess.
            workday_hours = next((hours for hours in week if hours), _NINE_TO_SIX)
        use_statutory = config.get("use_statutory", True)
        if not isinstance(use_statutory, bool):
            raise CalendarConfigError("use_statutory: must be true or false")
        return cls(
            timezone=_parse_timezone(config.get("timezone", "Asia/Shanghai")),
            week=week,
            workday_hours=workday_hours,
            holidays=_parse_dates(config.get("holidays", []), "holidays"),
            workdays=_parse_dates(config.get("workdays", []), "workdays"),
            use_statutory=use_statutory,
            always_open=mode == "24x7",
        )

    def to_config(self) -> dict[str, Any]:
        """The JSON-able config this calendar was (or could have been) built from."""
        return {
            "timezone": self.timezone,
            "mode": "24x7" if self.always_open else "business",
            "hours": {
                name: [[_format_minute(s), _format_minute(e)] for s, e in hours]
                for name, hours in zip(WEEKDAYS, self.week, strict=True)
                if hours
            },
            "workday_hours": [
                [_format_minute(s), _format_minute(e)] for s, e in self.workday_hours
            ],
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "workdays": sorted(d.isoformat() for d in self.workdays),
            "use_statutory": self.use_statutory,
        }

    # -- questions about days ---------------------------------------------------------------

    def hours_on(self, day: date) -> DayHours:
        """The business hours of a local date (empty when closed)."""
        if self.always_open:
            return ((0, 1440),)
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.workday_hours
        if self.use_statutory and day.year in _STATUTORY_YEARS:
            if day in _STATUTORY_HOLIDAYS:
                return ()
            if day in _STATUTORY_WORKDAYS:
                return self.workday_hours
        return self.week[day.weekday()]

    def is_working_day(self, day: date) -> bool:
        return bool(self.hours_on(day))

    # -- arithmetic on instants ---------------------------------------------------------------

    def is_business_time(self, t: datetime) -> bool:
        t = _as_utc(t)
        if self.always_open:
            return True
        day = t.astimezone(_zone(self.timezone)).date()
        return any(start <= t < end for start, end in self._intervals_on(day))

    def next_business_start(self, t: datetime) -> datetime:
        """``t`` itself during business time, else the next moment the calendar opens."""
        t = _as_utc(t)
        if self.always_open:
            return t
        return next(self._intervals_from(t))[0]

    def add_business_time(self, start: datetime, delta: timedelta) -> datetime:
        """The instant at which ``delta`` of business time has passed since ``start``.

        The result can be a closing time (Friday 18:00), never the next opening: a deadline
        reached at the end of a day is due then, not when the office reopens.
        """
        start = _as_utc(start)
        if delta < timedelta(0):
            raise ValueError("delta must not be negative")
        if self.always_open or not delta:
            return start + delta
        remaining = delta
        first = start.astimezone(_zone(self.timezone)).date()
        day = first
        while True:
            self._step(first, day)
            if day > first:
                week = self._ordinary_week(day)
                if week is not None and remaining > week:
                    remaining -= week
                    day += _WEEK
                    continue
            for open_at, close_at in self._intervals_on(day):
                if close_at <= start:
                    continue
                open_at = max(open_at, start)
                if remaining <= close_at - open_at:
                    return open_at + remaining
                remaining -= close_at - open_at
            day += _DAY

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        a, b = _as_utc(a), _as_utc(b)
        if b < a:
            return -self.business_time_between(b, a)
        if self.always_open:
            return b - a
        a = max(a, b - MAX_SPAN)
        tz = _zone(self.timezone)
        first, last = a.astimezone(tz).date(), b.astimezone(tz).date()
        total = timedelta(0)
        day = first
        while day <= last:
            self._step(first, day)
            if first < day and day + _WEEK <= last:  # the whole week lies inside (a, b)
                week = self._ordinary_week(day)
                if week is not None:
                    total += week
                    day += _WEEK
                    continue
            for open_at, close_at in self._intervals_on(day):
                if open_at >= b:
                    break
                if close_at > a:
                    total += min(close_at, b) - max(open_at, a)
            day += _DAY
        return total

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Close of business on the ``days``-th working day after ``start``'s local date.

        For rules such as "follow up within 3 working days of resolution". With ``days == 0``
        it is the close of ``start``'s own day, or of the next working day when that is closed.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        first = _as_utc(start).astimezone(_zone(self.timezone)).date()
        day = first
        if days == 0 and not self.is_working_day(day):
            day = self._next_working_day(first, day)
        for _ in range(days):
            day = self._next_working_day(first, day)
        return self._intervals_on(day)[-1][1]

    # -- internals --------------------------------------------------------------------------

    def _intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of a local date as UTC instants, in order."""
        tz = _zone(self.timezone)
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        # Adding a timedelta to an aware datetime moves the wall clock; converting to UTC
        # afterwards applies the offset in force at that wall-clock time (DST-safe).
        return [
            (
                (midnight + timedelta(minutes=s)).astimezone(UTC),
                (midnight + timedelta(minutes=e)).astimezone(UTC),
            )
            for s, e in self.hours_on(day)
        ]

    def _next_working_day(self, first: date, day: date) -> date:
        while True:
            day += _DAY
            self._step(first, day)
            if self.is_working_day(day):
                return day

    @staticmethod
    def _step(first: date, day: date) -> None:
        """Counts one step; refuses to go beyond ``MAX_SPAN`` from ``first``."""
        _steps[0] += 1
        if day - first > MAX_SPAN:
            raise CalendarRangeError(
                f"the answer lies more than {MAX_SPAN.days} days after {first.isoformat()}"
            )

    @cached_property
    def _special_days(self) -> tuple[date, ...]:
        """Dates whose hours may differ from their weekday's, sorted (for ``bisect``)."""
        days = set(self.holidays) | set(self.workdays)
        if self.use_statutory:
            days |= _STATUTORY_HOLIDAYS | _STATUTORY_WORKDAYS
        return tuple(sorted(days))

    @cached_property
    def _week_total(self) -> timedelta:
        return timedelta(minutes=sum(e - s for hours in self.week for s, e in hours))

    def _ordinary_week(self, day: date) -> timedelta | None:
        """The business time of the seven days from ``day`` when they follow the weekday
        hours and the zone keeps one UTC offset across them; else ``None`` (walk them)."""
        special = self._special_days
        i = bisect.bisect_left(special, day)
        if i < len(special) and special[i] < day + _WEEK:
            return None
        tz = _zone(self.timezone)
        end = day + _WEEK
        if (
            datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
            != datetime(end.year, end.month, end.day, tzinfo=tz).utcoffset()
        ):
            return None
        return self._week_total

    def _intervals_from(self, t: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals ending after ``t``, the first clipped to start at ``t``, for up to
        ``MAX_SPAN``."""
        first = t.astimezone(_zone(self.timezone)).date()
        day = first
        while True:
            self._step(first, day)
            for open_at, close_at in self._intervals_on(day):
                if close_at > t:
                    yield max(open_at, t), close_at
            day += _DAY


# -- parsing helpers ---------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # ZoneInfo caches instances per key, so this is cheap


def _as_utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        # A naive datetime is ambiguous (UTC from SQLite? local?); refuse rather than guess.
        raise ValueError("datetime must be timezone-aware (use kesu.clock.as_utc)")
    return t.astimezone(UTC)


def _parse_timezone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise CalendarConfigError("timezone: must be an IANA name such as Asia/Shanghai")
    try:
        _zone(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarConfigError(f"timezone: unknown time zone {value!r}") from exc
    return value


def _parse_week(value: object) -> tuple[DayHours, ...]:
    if not isinstance(value, Mapping):
        raise CalendarConfigError("hours: must map weekday names (mon … sun) to intervals")
    unknown = set(value) - set(WEEKDAYS)
    if unknown:
        raise CalendarConfigError(f"hours.{sorted(unknown)[0]}: not a weekday (mon … sun)")
    return tuple(_parse_day(value.get(name, []), f"hours.{name}") for name in WEEKDAYS)


def _parse_day(value: object, field: str) -> DayHours:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise CalendarConfigError(f'{field}: must be a list of ["HH:MM", "HH:MM"] pairs')
    intervals: list[Interval] = []
    for i, pair in enumerate(value):
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise CalendarConfigError(f'{field}[{i}]: must be a pair ["HH:MM", "HH:MM"]')
        start, end = (
            _parse_minute(pair[0], f"{field}[{i}]"),
            _parse_minute(pair[1], f"{field}[{i}]"),
        )
        if start >= end:
            raise CalendarConfigError(f"{field}[{i}]: {pair[0]}-{pair[1]} ends before it starts")
        intervals.append((start, end))
    intervals.sort()
    for (_, prev_end), (start, _) in pairwise(intervals):
        if start < prev_end:
            raise CalendarConfigError(f"{field}: intervals overlap")
    return tuple(intervals)


def _parse_minute(value: object, field: str) -> int:
    match = _HHMM.match(value) if isinstance(value, str) else None
    minute = int(match[1]) * 60 + int(match[2]) if match else -1
    if not match or int(match[2]) > 59 or not 0 <= minute <= 1440:
        raise CalendarConfigError(f"{field}: {value!r} is not a time HH:MM between 00:00 and 24:00")
    return minute


def _format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_dates(value: object, field: str) -> frozenset[date]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise CalendarConfigError(f"{field}: must be a list of dates YYYY-MM-DD")
    days = set()
    for i, item in enumerate(value):
        try:
            days.add(date.fromisoformat(item))
        except (TypeError, ValueError) as exc:
            raise CalendarConfigError(f"{field}[{i}]: {item!r} is not a date YYYY-MM-DD") from exc
    return frozenset(days)


def seed_calendar_configs() -> dict[str, dict[str, Any]]:
    """The calendars kesu installs by default (``standard``, ``lunch_break``, ``always_open``)."""
    text = resources.files("kesu.sla.data").joinpath("calendars.json").read_text("utf-8")
    configs: dict[str, dict[str, Any]] = json.loads(text)
    return configs
