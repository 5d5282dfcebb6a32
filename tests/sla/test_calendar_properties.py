from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kesu.sla.calendar import BusinessCalendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
CALENDARS = [
    BusinessCalendar.from_config({"hours": {d: [["09:00", "18:00"]] for d in WEEKDAYS}}),
    BusinessCalendar.from_config(
        {
            "hours": {
                **{d: [["09:00", "12:00"], ["13:30", "18:00"]] for d in WEEKDAYS},
                "sat": [["10:00", "15:00"]],
            },
            "holidays": ["2026-12-24"],
            "workdays": ["2026-12-27"],
        }
    ),
    BusinessCalendar.from_config({"timezone": "America/New_York", "use_statutory": False}),
    BusinessCalendar.from_config({"mode": "24x7"}),
]

calendars = st.sampled_from(CALENDARS)
# 2025-2027 covers years with statutory data, National Day and Spring Festival weeks; the
# seconds resolution exercises starts that are not on a minute boundary.
instants = st.integers(
    min_value=int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(datetime(2027, 12, 31, tzinfo=UTC).timestamp()),
).map(lambda s: datetime.fromtimestamp(s, UTC))
deltas = st.integers(min_value=0, max_value=60 * 24 * 30).map(lambda m: timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(calendars, instants, deltas)
def test_add_then_between_gives_the_delta_back(
    cal: BusinessCalendar, start: datetime, delta: timedelta
) -> None:
    due = cal.add_business_time(start, delta)
    assert due >= start
    assert cal.business_time_between(start, due) == delta


@settings(max_examples=300, deadline=None)
@given(calendars, instants, deltas.filter(bool))
def test_deadline_is_reached_during_business_time(
    cal: BusinessCalendar, start: datetime, delta: timedelta
) -> None:
    due = cal.add_business_time(start, delta)
    # The clock was running in the instant before the deadline, so the deadline is inside an
    # open interval or at its closing edge, never in the middle of a night or holiday.
    assert cal.is_business_time(due - timedelta(microseconds=1))
    # And it is the earliest such instant: one microsecond earlier, the delta was not yet used.
    assert cal.business_time_between(start, due - timedelta(microseconds=1)) < delta


@settings(max_examples=200, deadline=None)
@given(calendars, instants, instants, instants)
def test_between_is_additive(cal: BusinessCalendar, a: datetime, b: datetime, c: datetime) -> None:
    ab, bc, ac = (cal.business_time_between(x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == ac


@settings(max_examples=200, deadline=None)
@given(calendars, instants)
def test_next_business_start_is_business_time(cal: BusinessCalendar, t: datetime) -> None:
    start = cal.next_business_start(t)
    assert start >= t
    assert cal.is_business_time(start)
    assert cal.business_time_between(t, start) == timedelta(0)
