from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from kesu.sla.calendar import (
    BusinessCalendar,
    CalendarConfigError,
    has_statutory_data,
    seed_calendar_configs,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
NINE_TO_SIX = BusinessCalendar.from_config(
    {"hours": {d: [["09:00", "18:00"]] for d in WEEKDAYS}, "use_statutory": True}
)
LUNCH_BREAK = BusinessCalendar.from_config(
    {"hours": {d: [["09:00", "12:00"], ["13:30", "18:00"]] for d in WEEKDAYS}}
)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def as_local(t: datetime) -> datetime:
    assert t.tzinfo is UTC, "results are UTC"
    return t.astimezone(SHANGHAI)


def test_package_data_for_national_day_2026() -> None:
    # Guard for the tests below: the dates come from chinese_calendar's own tables.
    holidays = chinese_calendar.get_holidays(date(2026, 9, 28), date(2026, 10, 12))
    assert [d for d in holidays if d.weekday() < 5] == [date(2026, 10, d) for d in (1, 2, 5, 6, 7)]
    assert chinese_calendar.is_workday(date(2026, 9, 20))  # a Sunday, worked (调休)
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # a Saturday, worked (调休)
    assert chinese_calendar.is_holiday(date(2026, 9, 25))  # Mid-Autumn Festival, a Friday
    assert has_statutory_data(2026)


def test_deadline_across_national_day_2026() -> None:
    # Wednesday 30 Sept 17:00 + 2 h: one hour on the 30th, the 1st-7th are off, Thursday the 8th.
    due = NINE_TO_SIX.add_business_time(local(2026, 9, 30, 17), timedelta(hours=2))
    assert as_local(due) == local(2026, 10, 8, 10)


def test_adjusted_working_saturday_after_national_day() -> None:
    due = NINE_TO_SIX.add_business_time(local(2026, 10, 9, 17), timedelta(hours=2))
    assert as_local(due) == local(2026, 10, 10, 10)  # Saturday the 10th is a 调休 workday


def test_adjusted_working_sunday_before_mid_autumn() -> None:
    due = NINE_TO_SIX.add_business_time(local(2026, 9, 18, 17, 30), timedelta(hours=1))
    assert as_local(due) == local(2026, 9, 20, 9, 30)  # Sat 19th off, Sun 20th worked


def test_whole_national_day_week_counts_nothing() -> None:
    between = NINE_TO_SIX.business_time_between(local(2026, 9, 30, 18), local(2026, 10, 8, 9))
    assert between == timedelta(0)


def test_friday_afternoon_plus_one_hour_is_monday_morning() -> None:
    due = NINE_TO_SIX.add_business_time(local(2026, 11, 20, 17, 30), timedelta(hours=1))
    assert as_local(due) == local(2026, 11, 23, 9, 30)


def test_deadline_at_closing_time_stays_there() -> None:
    due = NINE_TO_SIX.add_business_time(local(2026, 11, 20, 17), timedelta(hours=1))
    assert as_local(due) == local(2026, 11, 20, 18)


def test_lunch_break_is_skipped() -> None:
    due = LUNCH_BREAK.add_business_time(local(2026, 11, 23, 11, 30), timedelta(hours=1))
    assert as_local(due) == local(2026, 11, 23, 14)
    assert not LUNCH_BREAK.is_business_time(local(2026, 11, 23, 12, 30))
    assert LUNCH_BREAK.is_business_time(local(2026, 11, 23, 13, 30))
    assert not LUNCH_BREAK.is_business_time(local(2026, 11, 23, 18))  # closing is exclusive


def test_business_time_between_counts_only_open_hours() -> None:
    a, b = local(2026, 11, 23, 8), local(2026, 11, 24, 10)  # Monday 08:00 → Tuesday 10:00
    assert LUNCH_BREAK.business_time_between(a, b) == timedelta(hours=8, minutes=30)
    assert LUNCH_BREAK.business_time_between(b, a) == -timedelta(hours=8, minutes=30)


def test_next_business_start() -> None:
    assert as_local(LUNCH_BREAK.next_business_start(local(2026, 11, 23, 12, 5))) == local(
        2026, 11, 23, 13, 30
    )
    assert as_local(NINE_TO_SIX.next_business_start(local(2026, 9, 30, 19))) == local(
        2026, 10, 8, 9
    )
    inside = local(2026, 11, 23, 10, 17)
    assert NINE_TO_SIX.next_business_start(inside) == inside


def test_admin_holidays_and_workdays_override_everything() -> None:
    cal = BusinessCalendar.from_config(
        {
            "holidays": ["2026-11-23"],
            "workdays": ["2026-10-05"],
            "workday_hours": [["10:00", "12:00"]],
        }
    )
    assert not cal.is_working_day(date(2026, 11, 23))  # a Monday made a company holiday
    assert cal.hours_on(date(2026, 10, 5)) == ((600, 720),)  # a statutory holiday worked anyway
    due = cal.add_business_time(local(2026, 11, 20, 17), timedelta(hours=2))
    assert as_local(due) == local(2026, 11, 24, 10)


def test_statutory_rules_can_be_switched_off() -> None:
    cal = BusinessCalendar.from_config({"use_statutory": False})
    assert cal.is_working_day(date(2026, 10, 1))
    assert not cal.is_working_day(date(2026, 10, 10))


def test_year_without_package_data_falls_back_to_weekdays() -> None:
    assert not has_statutory_data(2099)
    # 1 Oct 2099 is a Thursday: a holiday in reality, but the package cannot know, so it is a
    # working day by the weekday rule instead of an exception.
    due = NINE_TO_SIX.add_business_time(local(2099, 10, 1, 17), timedelta(hours=2))
    assert as_local(due) == local(2099, 10, 2, 10)


def test_twenty_four_seven() -> None:
    cal = BusinessCalendar.from_config({"mode": "24x7"})
    start = local(2026, 10, 1, 23, 30)
    assert cal.add_business_time(start, timedelta(hours=1)) == start + timedelta(hours=1)
    assert cal.is_business_time(start)
    assert cal.business_time_between(start, start + timedelta(days=3)) == timedelta(days=3)


def test_other_time_zone() -> None:
    cal = BusinessCalendar.from_config({"timezone": "Europe/Berlin", "use_statutory": False})
    # Berlin leaves summer time on Sunday 25 Oct 2026, between Friday 17:00 and Monday.
    start = datetime(2026, 10, 23, 15, 0, tzinfo=UTC)  # Friday 17:00 in Berlin (UTC+2)
    due = cal.add_business_time(start, timedelta(hours=2))
    assert due == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin (UTC+1)


def test_long_span_is_fast_and_exact() -> None:
    start = local(2026, 1, 5, 9)  # a Monday
    due = NINE_TO_SIX.add_business_time(start, timedelta(hours=9 * 1000))
    assert NINE_TO_SIX.business_time_between(start, due) == timedelta(hours=9 * 1000)
    assert due.year in (2029, 2030)


def test_add_working_days() -> None:
    # Resolved Wed 30 Sept 2026; three working days later is Saturday 10 Oct (调休).
    assert as_local(NINE_TO_SIX.add_working_days(local(2026, 9, 30, 10), 3)) == local(
        2026, 10, 10, 18
    )
    assert as_local(NINE_TO_SIX.add_working_days(local(2026, 10, 3, 10), 0)) == local(
        2026, 10, 8, 18
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        NINE_TO_SIX.is_business_time(datetime(2026, 10, 8, 10))


def test_negative_delta_is_refused() -> None:
    with pytest.raises(ValueError):
        NINE_TO_SIX.add_business_time(local(2026, 10, 8, 10), timedelta(minutes=-1))


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"hours": {"mon": [["09:00", "08:00"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["9am", "18:00"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["09:00", "24:30"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "hours.mon"),
        ({"hours": {"funday": []}}, "hours.funday"),
        ({"hours": {}}, "hours"),
        ({"holidays": ["2026-02-30"]}, "holidays[0]"),
        ({"holidays": ["2026-10-10"], "workdays": ["2026-10-10"]}, "workdays"),
        ({"mode": "sometimes"}, "mode"),
        ({"use_statutory": "yes"}, "use_statutory"),
        ({"timezon": "Asia/Shanghai"}, "timezon"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, object], field: str) -> None:
    with pytest.raises(CalendarConfigError) as error:
        BusinessCalendar.from_config(config)
    assert str(error.value).startswith(f"{field}:")


def test_config_round_trip_and_seeds() -> None:
    for config in seed_calendar_configs().values():
        cal = BusinessCalendar.from_config(config)
        assert BusinessCalendar.from_config(cal.to_config()) == cal
    midnight = BusinessCalendar.from_config({"hours": {"sat": [["00:00", "24:00"]]}})
    assert midnight.to_config()["hours"] == {"sat": [["00:00", "24:00"]]}
