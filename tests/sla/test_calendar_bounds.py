"""The calendar's cost is bounded: ordinary weeks are jumped whole, no computation covers more
than ``MAX_SPAN``, and the shortcut gives the same answers as walking every day."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kesu.sla.calendar import MAX_SPAN, BusinessCalendar, CalendarRangeError, walk_steps
from kesu.sla.deadlines import MilestoneClock, due_at, time_at

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
STANDARD = BusinessCalendar.from_config({"hours": {d: [["09:00", "18:00"]] for d in WEEKDAYS}})
CALENDARS = [
    STANDARD,
    BusinessCalendar.from_config(
        {
            "hours": {
                **{d: [["09:00", "12:00"], ["13:30", "18:00"]] for d in WEEKDAYS},
                "sat": [["10:00", "15:00"]],
            },
            "holidays": ["2026-12-24", "2021-03-03"],
            "workdays": ["2026-12-27"],
        }
    ),
    # DST: the weeks of a change are walked day by day; business hours over 02:00-03:00.
    BusinessCalendar.from_config(
        {
            "timezone": "America/New_York",
            "use_statutory": False,
            "hours": {d: [["01:00", "04:00"], ["09:00", "17:00"]] for d in WEEKDAYS},
        }
    ),
    BusinessCalendar.from_config({"timezone": "Europe/Berlin", "use_statutory": False}),
]


def naive_between(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """The pre-shortcut algorithm: every open interval of every day."""
    day = a.astimezone(ZoneInfo(cal.timezone)).date()
    total = timedelta(0)
    while True:
        for open_at, close_at in cal._intervals_on(day):
            if open_at >= b:
                return total
            if close_at > a:
                total += min(close_at, b) - max(open_at, a)
        day += timedelta(days=1)


instants = st.integers(
    min_value=int(datetime(2018, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(datetime(2027, 12, 31, tzinfo=UTC).timestamp()),
).map(lambda s: datetime.fromtimestamp(s, UTC))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CALENDARS), instants, instants)
def test_week_jumps_agree_with_walking_every_day(
    cal: BusinessCalendar, a: datetime, b: datetime
) -> None:
    a, b = min(a, b), max(a, b)
    assert cal.business_time_between(a, b) == naive_between(cal, a, b)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(CALENDARS),
    instants,
    st.integers(min_value=1, max_value=60 * 2000).map(lambda m: timedelta(minutes=m)),
)
def test_long_deadlines_invert_between(
    cal: BusinessCalendar, start: datetime, delta: timedelta
) -> None:
    due = cal.add_business_time(start, delta)
    assert naive_between(cal, start, due) == delta
    assert cal.is_business_time(due - timedelta(microseconds=1))


def test_a_span_since_year_one_is_clamped_and_cheap() -> None:
    # The received_at: walking every day since year 1 took 12-40 s.
    a = datetime(1, 1, 1, tzinfo=UTC)
    b = datetime(2026, 12, 1, 12, tzinfo=UTC)
    before = walk_steps()
    total = STANDARD.business_time_between(a, b)
    steps = walk_steps() - before
    assert total == STANDARD.business_time_between(b - MAX_SPAN, b)
    # Ten years: about 520 weeks jumped plus the statutory holiday weeks walked day by day.
    assert steps < 3000
    assert STANDARD.business_time_between(b, a) == -total


def test_one_year_costs_weeks_not_days() -> None:
    plain = BusinessCalendar.from_config({"use_statutory": False})
    a, b = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    before = walk_steps()
    plain.business_time_between(a, b)
    assert walk_steps() - before <= 53 + 14
    before = walk_steps()
    plain.add_business_time(a, timedelta(hours=9 * 250))
    assert walk_steps() - before <= 53 + 14


def test_answers_beyond_the_span_raise_instead_of_looping() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    before = walk_steps()
    with pytest.raises(CalendarRangeError):
        STANDARD.add_business_time(start, timedelta(days=365 * 100))
    with pytest.raises(CalendarRangeError):
        STANDARD.add_working_days(start, 10_000)
    assert walk_steps() - before < 3660 * 2 + 10
    # A calendar that never opens again also stops at the span.
    closed = BusinessCalendar.from_config(
        {"use_statutory": False, "holidays": [], "hours": {"mon": [["09:00", "10:00"]]}}
    )
    assert closed.add_business_time(start, timedelta(hours=1)) > start


def test_an_escalation_beyond_the_span_arms_no_timer() -> None:
    # The largest target a policy allows (366 days of minutes) at the highest level (1000 %).
    start = datetime(2026, 12, 1, tzinfo=UTC)
    clock = MilestoneClock(target_minutes=366 * 24 * 60, started_at=start)
    assert due_at(clock, STANDARD) is not None  # ~4 years of business days: within the span
    before = walk_steps()
    assert time_at(clock, STANDARD, clock.target * 10) is None
    assert walk_steps() - before < 3660 + 10
