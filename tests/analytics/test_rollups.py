"""The rollups give the numbers a direct computation gives, after random changes applied the
way the services leave them (rows changed, a complaint event written), caught up by the
worker's path; and a rebuild gives the same again."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kesu.analytics import rollups, service
from kesu.analytics.service import Filters
from kesu.complaints.models import Complaint, Customer
from kesu.sla.models import SlaClock
from tests.analytics import conftest as build
from tests.flows import local

START, END = date(2026, 11, 1), date(2026, 11, 8)
DIMS = (None, "category_id", "channel", "region", "team_id", "handler_id", "product")

change = st.tuples(
    st.integers(0, 5),  # which complaint
    st.sampled_from(
        [
            "resolve",
            "unresolve",
            "reopen",
            "team",
            "channel",
            "category",
            "received",
            "clock",
            "breach",
            "survey",
            "repeat",
            "merge",
            "alert",
            "product",
            "region",
        ]
    ),
    st.integers(0, 10**6),
)


def _apply(
    session: Any, clock: Any, ids: list[int], op: str, seed: int, refs: dict[str, Any]
) -> None:
    c = session.get(Complaint, ids[seed % len(ids)] if op == "repeat" else ids[0])
    if op == "resolve":
        c.resolved_at = c.received_at + timedelta(minutes=seed % 5000)
    elif op == "unresolve":
        c.resolved_at = None
    elif op == "reopen":
        c.reopen_count += 1
    elif op == "team":
        c.team_id = refs["teams"][seed % len(refs["teams"])]
    elif op == "channel":
        c.channel = ("phone", "web", "email")[seed % 3]
    elif op == "category":
        c.category_id = refs["categories"][seed % len(refs["categories"])]
    elif op == "received":
        c.received_at = local(2026, 11, 1 + seed % 7, seed % 24)
    elif op == "clock":
        if not session.scalars(select(SlaClock).where(SlaClock.complaint_id == c.id)).first():
            build.first_response(session, c, met_after=seed % 120)
    elif op == "breach":
        for row in session.scalars(select(SlaClock).where(SlaClock.complaint_id == c.id)):
            row.breached = True
    elif op == "survey":
        from kesu.surveys.models import Survey

        rounds = 1 + len(
            session.scalars(select(Survey.id).where(Survey.complaint_id == c.id)).all()
        )
        build.survey(session, c, (1 + seed % 5, 1 + seed // 5 % 5, 3), seed % 11, round=rounds)
    elif op == "repeat":
        c.repeat_of_id = ids[(seed + 1) % len(ids)] if ids[(seed + 1) % len(ids)] != c.id else None
    elif op == "merge":
        c.merged_into_id = None if c.merged_into_id else ids[(seed + 1) % len(ids)]
        if c.merged_into_id == c.id:
            c.merged_into_id = None
    elif op == "alert":
        build.alert(session, c, f"level{2 + seed % 2}:x{seed}", 2 + seed % 2)
    elif op == "product":
        c.product = ("降噪耳机 X1", "智能手表 S3", None)[seed % 3]
    elif op == "region":
        session.get(Customer, c.customer_id).region = ("上海", "北京", None)[seed % 3]
    session.flush()
    build.event(session, c.id, clock.now())


def _same(session: Any, filters: Filters, dims: tuple[Any, ...] = (None,)) -> None:
    for dim in dims:
        got = sorted(_norm(r) for r in service.fact_rows(session, START, END, filters, dim))
        want = sorted(_norm(r) for r in service.direct_rows(session, START, END, filters, dim))
        assert [r for r in got if any(r[2])] == want, (dim, filters)


def _norm(row: Any) -> tuple[Any, ...]:
    return (row[0], str(row[1]), tuple(row[2]))


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.lists(st.tuples(st.integers(0, 5), change), min_size=1, max_size=12))
def test_rollups_match_a_direct_query_after_random_changes(
    db: Any, clock: Any, changes: list[Any]
) -> None:
    # The database lives across examples: each example's changes land on the last one's.
    with db.session() as session:
        teams = [build.team_id(session, code) for code in ("service", "logistics")]
        categories = [c.id for c in build.leaves(session)[:4]]
        ids = list(session.scalars(select(Complaint.id).order_by(Complaint.id).limit(6)))
        while len(ids) < 6:
            c = build.complaint(session, clock, local(2026, 11, 1 + len(ids), 10), team=teams[0])
            ids.append(c.id)
    refs = {"teams": teams, "categories": categories}
    for index, (_which, (pick, op, seed)) in enumerate(changes):
        with db.session() as session:
            order = ids[pick:] + ids[:pick]
            _apply(session, clock, order, op, seed, refs)
        if index % 3 == 2:  # the worker runs now and then, not after every change
            rollups.catch_up_all(db, clock)
    rollups.catch_up_all(db, clock)
    with db.session(write=False) as session:
        _same(session, Filters(), DIMS)  # every cube a group can read
        for filters in (
            Filters(team_id=teams[0]),
            Filters(channel="web"),
            Filters(category_id=categories[0], region="上海"),
        ):
            _same(session, filters)
        before = service.kpis(session, start=START, end=END, filters=Filters())
    rollups.rebuild(db, clock)
    with db.session(write=False) as session:
        assert service.kpis(session, start=START, end=END, filters=Filters()) == before
        _same(session, Filters())


def test_the_cursor_waits_for_events_to_settle(db: Any, clock: Any) -> None:
    from kesu.analytics.models import AnalyticsCursor

    with db.session() as session:
        c = build.complaint(session, clock, local(2026, 11, 2, 10))
        build.event(session, c.id, clock.now())  # the first at its receipt, this one now
    with db.session() as session:
        assert rollups.catch_up(session, clock) == 1  # both applied; the cursor stops at 1
    with db.session(write=False) as session:
        assert (
            service.kpis(session, start=START, end=END, filters=Filters())[
                "resolution_rate"
            ].denominator
            == 1
        )
        first = session.get(AnalyticsCursor, rollups.CURSOR).last_id
    with db.session() as session:
        c = session.get(Complaint, c.id)
        c.resolved_at = c.received_at + timedelta(hours=3)  # changed; no new event
    clock.advance(rollups.SETTLE)
    with db.session() as session:
        assert rollups.catch_up(session, clock) == 1  # re-read: the change is picked up
    with db.session(write=False) as session:
        k = service.kpis(session, start=START, end=END, filters=Filters())
        assert k["resolution_rate"].numerator == 1
        assert session.get(AnalyticsCursor, rollups.CURSOR).last_id > first


def test_the_worker_brings_a_registered_complaint_into_the_kpis(
    db: Any, clock: Any, settings: Any
) -> None:
    from tests.flows import create, make_staff, note, worker

    make_staff(db, clock)
    complaint_id = create(db, clock, channel="phone")  # through registration: clocks, events
    clock.advance(minutes=10)
    note(db, clock, complaint_id, True, "agent_a")  # a public message: the first response
    today = service.period_of(clock.now().date(), "day")
    window = {"start": today - timedelta(days=1), "end": today + timedelta(days=2)}
    worker(db, settings, clock).run_once()
    with db.session(write=False) as session:
        k = service.kpis(session, filters=Filters(channel="phone"), **window)
        assert k["resolution_rate"].denominator == 1
        assert k["response_rate"].denominator == 1 and k["response_rate"].numerator == 1
