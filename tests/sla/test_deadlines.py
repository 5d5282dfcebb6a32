from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

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
CAL = BusinessCalendar.from_config(
    {"hours": {d: [["09:00", "12:00"], ["13:30", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


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
