from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kesu.sla.calendar import BusinessCalendar
from kesu.sla.deadlines import (
    MilestoneClock,
    Pause,
    due_at,
    elapsed,
    is_breached,
    is_warning,
    remaining,
    warn_at,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
CAL = BusinessCalendar.from_config(
    {"hours": {d: [["09:00", "12:00"], ["13:30", "18:00"]] for d in WEEKDAYS}}
)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


MONDAY_9 = local(2026, 11, 23, 9)


def test_running_clock() -> None:
    clock = MilestoneClock(target_minutes=4 * 60, started_at=MONDAY_9)
    assert due_at(clock, CAL) == local(2026, 11, 23, 14, 30)  # 3 h before lunch, 1 h after
    assert warn_at(clock, CAL) == local(2026, 11, 23, 13, 42)  # 80 % = 3 h 12 min
    assert remaining(clock, CAL, local(2026, 11, 23, 12, 45)) == timedelta(hours=1)
    assert not is_warning(clock, CAL, local(2026, 11, 23, 13, 41))
    assert is_warning(clock, CAL, local(2026, 11, 23, 13, 42))
    assert not is_breached(clock, CAL, local(2026, 11, 23, 14, 29))
    assert is_breached(clock, CAL, local(2026, 11, 23, 14, 30))


def test_paused_clock_moves_the_deadline() -> None:
    # Waiting for the customer's confirmation from 10:00 to 16:00: the clock counts 9-10 only,
    # then 16:00-18:00, and the last hour on Tuesday morning.
    pause = Pause(local(2026, 11, 23, 10), local(2026, 11, 23, 16))
    clock = MilestoneClock(target_minutes=4 * 60, started_at=MONDAY_9, pauses=(pause,))
    assert due_at(clock, CAL) == local(2026, 11, 24, 10)
    assert elapsed(clock, CAL, local(2026, 11, 23, 17)) == timedelta(hours=2)


def test_open_pause_has_no_due_time_and_never_breaches() -> None:
    pause = Pause(local(2026, 11, 23, 10))
    clock = MilestoneClock(target_minutes=120, started_at=MONDAY_9, pauses=(pause,))
    assert clock.is_paused
    assert due_at(clock, CAL) is None
    assert warn_at(clock, CAL) is None
    next_month = local(2026, 12, 23, 10)
    assert elapsed(clock, CAL, next_month) == timedelta(hours=1)
    assert not is_breached(clock, CAL, next_month)
    assert remaining(clock, CAL, next_month) == timedelta(hours=1)


def test_open_pause_after_the_deadline_keeps_it_breached() -> None:
    pause = Pause(local(2026, 11, 23, 11))
    clock = MilestoneClock(target_minutes=60, started_at=MONDAY_9, pauses=(pause,))
    assert due_at(clock, CAL) == local(2026, 11, 23, 10)
    assert is_breached(clock, CAL, local(2026, 11, 24, 9))
    assert remaining(clock, CAL, local(2026, 11, 24, 9)) == -timedelta(hours=1)


def test_overlapping_and_early_pauses_count_once() -> None:
    pauses = (
        Pause(local(2026, 11, 20, 9), local(2026, 11, 23, 9, 30)),  # began before the clock
        Pause(local(2026, 11, 23, 10), local(2026, 11, 23, 11)),
        Pause(local(2026, 11, 23, 10, 30), local(2026, 11, 23, 11, 30)),
    )
    clock = MilestoneClock(target_minutes=60, started_at=MONDAY_9, pauses=pauses)
    # Runs 9:30-10:00 and from 11:30: 30 + 30 minutes.
    assert due_at(clock, CAL) == local(2026, 11, 23, 12)


def test_deadline_over_the_weekend_and_holiday() -> None:
    clock = MilestoneClock(target_minutes=60, started_at=local(2026, 9, 30, 17, 30))
    assert due_at(clock, CAL) == local(2026, 10, 8, 9, 30)
    assert is_breached(clock, CAL, local(2026, 10, 8, 9, 30))
    assert not is_breached(clock, CAL, local(2026, 10, 7, 23, 59))


def test_invalid_clocks() -> None:
    with pytest.raises(ValueError):
        MilestoneClock(target_minutes=-1, started_at=MONDAY_9)
    with pytest.raises(ValueError):
        MilestoneClock(target_minutes=60, started_at=MONDAY_9, warn_percent=0)
    with pytest.raises(ValueError):
        Pause(local(2026, 11, 23, 11), local(2026, 11, 23, 10))


def _pause(offset: int, length: int) -> Pause:
    start = MONDAY_9 + timedelta(minutes=offset)
    return Pause(start, start + timedelta(minutes=length))


pause_strategy = st.builds(
    _pause, st.integers(min_value=0, max_value=60 * 24 * 20), st.integers(0, 60 * 24 * 5)
)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=60 * 40),
    st.lists(pause_strategy, max_size=4),
)
def test_due_time_is_when_the_running_clock_reaches_the_target(
    target: int, pauses: list[Pause]
) -> None:
    clock = MilestoneClock(target_minutes=target, started_at=MONDAY_9, pauses=tuple(pauses))
    due = due_at(clock, CAL)
    assert due is not None
    assert elapsed(clock, CAL, due) == clock.target
    assert elapsed(clock, CAL, due - timedelta(microseconds=1)) < clock.target
    assert is_breached(clock, CAL, due)
    assert not is_breached(clock, CAL, due - timedelta(microseconds=1))
