"""Every KPI on a small hand-built data set, its answer worked out by hand below."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from kesu.analytics import rollups, service, volumes
from kesu.analytics.service import Filters
from tests.analytics import conftest as build
from tests.flows import local

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


def world(db: Any, clock: Any) -> dict[str, Any]:
    """Five complaints received in November (local time) and three outside it.

    c1 phone, service, 功能故障/无法开机, resolved in 10 h, answered in 30 min (target 60),
       survey 5/5/5 nps 10; repeated later by c4 (so not first-contact).
    c2 web, service, 包装破损/外箱压坏, resolved in 30 h, reopened once, answered after
       90 min (late), its resolution clock breached; survey 2/3/4 nps 5.
    c3 phone, logistics, 配送延误, open, first response breached, escalated to level 2.
    c4 phone, logistics, repeat of c1, resolved in 5 h, no clocks.
    c7 email, service, 智能手表 S3, received 23:59 on 30 November, open.
    Out: c5 (merged into c3), c6 (23:30 on 31 October), c8 (00:00 on 1 December).
    """
    with db.session() as session:
        service_team = build.team_id(session, "service")
        logistics = build.team_id(session, "logistics")
        broken = build.category(session, "产品质量/功能故障/无法开机").id
        box = build.category(session, "产品质量/包装破损/外箱压坏").id
        late = build.category(session, "物流服务/配送延误").id
        t1 = local(2026, 11, 2, 10)
        c1 = build.complaint(
            session,
            clock,
            t1,
            team=service_team,
            category_id=broken,
            resolved=t1 + timedelta(hours=10),
        )
        build.first_response(session, c1, met_after=30)
        build.survey(session, c1, (5, 5, 5), 10)
        t2 = local(2026, 11, 3, 9)
        c2 = build.complaint(
            session,
            clock,
            t2,
            channel="web",
            team=service_team,
            category_id=box,
            resolved=t2 + timedelta(hours=30),
            reopen_count=1,
        )
        build.first_response(session, c2, met_after=90)
        build.first_response(session, c2, minutes=600, breached=True, milestone="resolution")
        build.survey(session, c2, (2, 3, 4), 5)
        t3 = local(2026, 11, 4, 9)
        c3 = build.complaint(session, clock, t3, team=logistics, category_id=late)
        build.first_response(session, c3, breached=True)
        build.alert(session, c3, "breach:first_response", 1)
        build.alert(session, c3, "level2:first_response", 2)
        t4 = local(2026, 11, 5, 9)
        c4 = build.complaint(
            session,
            clock,
            t4,
            team=logistics,
            category_id=late,
            resolved=t4 + timedelta(hours=5),
            repeat_of=c1.id,
        )
        build.complaint(session, clock, local(2026, 11, 6, 9), merged_into=c3.id)
        c6 = build.complaint(session, clock, local(2026, 10, 31, 23, 30), team=service_team)
        c7 = build.complaint(
            session,
            clock,
            local(2026, 11, 30, 23, 59),
            channel="email",
            team=service_team,
            product="智能手表 S3",
        )
        build.complaint(session, clock, local(2026, 12, 1, 0, 0), team=service_team)
        build.payout(session, c1, "200.00", local(2026, 11, 10, 12), service_team)
        build.payout(session, c3, "50.50", local(2026, 12, 1, 0, 30), logistics)
        build.payout(session, c6, "30.00", local(2026, 11, 15, 12), service_team)
        volumes.store(
            session,
            clock,
            [
                volumes.VolumeRow("month", NOV, "降噪耳机 X1", "", 40000),
                volumes.VolumeRow("day", date(2026, 11, 5), "智能手表 S3", "", 20000),
                volumes.VolumeRow("month", DEC, "降噪耳机 X1", "", 99999),
            ],
            "test",
            "test",
        )
        ids = {"c1": c1.id, "c2": c2.id, "c3": c3.id, "c4": c4.id, "c7": c7.id}
        return ids | {"service": service_team, "logistics": logistics, "broken": broken}


def values(db: Any, filters: Filters = Filters()) -> dict[str, service.Kpi]:
    with db.session(write=False) as session:
        return service.kpis(session, start=NOV, end=DEC, filters=filters)


def test_every_kpi_by_hand(db: Any, clock: Any) -> None:
    world(db, clock)
    rollups.catch_up_all(db, clock)  # the worker's path: from the complaint events
    k = values(db)
    assert set(k) == set(service.KPI_CODES)
    # response: due c1 (met), c2 (late), c3 (breached) → 1/3
    assert (k["response_rate"].numerator, k["response_rate"].denominator) == (1, 3)
    assert k["response_rate"].value == pytest.approx(1 / 3, abs=1e-6)
    assert k["response_rate"].below_target and k["response_rate"].target == 0.95
    # resolution: c1, c2, c4 of 5 → 0.6 < 0.8
    assert (k["resolution_rate"].numerator, k["resolution_rate"].denominator) == (3, 5)
    assert k["resolution_rate"].value == 0.6 and k["resolution_rate"].below_target
    # CSAT: (15 + 9) points / 3 questions × 2 (10-point scale) / 2 answers = 8.0 ≥ 7
    assert k["csat"].value == 8.0 and k["csat"].denominator == 2
    assert not k["csat"].below_target
    # NPS: 1 promoter (10), 1 detractor (5) of 2 → 0
    assert (k["nps"].numerator, k["nps"].denominator, k["nps"].value) == (0, 2, 0.0)
    # FCR: of c1 (repeated by c4), c2 (reopened), c4 → 1/3
    assert (k["fcr"].numerator, k["fcr"].denominator) == (1, 3)
    # handling: 10 + 30 + 5 hours over 3 → 15 h; p90: 3rd of 3 = 30 h → bucket (24, 36] → 36
    assert k["handling_time_avg"].value == 15.0 and k["handling_time_avg"].numerator == 45
    assert k["handling_time_p90"].value == 36.0
    # repeats: c4 of 5; reopen: c2 of the 3 ever resolved; escalation: c3 of 5
    assert (k["repeat_rate"].numerator, k["repeat_rate"].denominator) == (1, 5)
    assert (k["reopen_rate"].numerator, k["reopen_rate"].denominator) == (1, 3)
    assert (k["escalation_rate"].numerator, k["escalation_rate"].denominator) == (1, 5)
    # SLA breaches: c2 (resolution), c3 (first response) of the 3 with clocks
    assert (k["sla_breach_rate"].numerator, k["sla_breach_rate"].denominator) == (2, 3)
    # compensation by approved_at: 200.00 (c1) + 30.00 (c6, received in October) = 230.00
    assert k["compensation_paid"].value == 230.0 and k["compensation_paid"].denominator == 2
    # complaint rate: 5 complaints / (40,000 + 20,000) orders × 10,000
    assert k["complaint_rate"].denominator == 60000
    assert k["complaint_rate"].value == pytest.approx(5 / 6, abs=1e-6)


def test_rebuild_gives_the_same_numbers(db: Any, clock: Any) -> None:
    world(db, clock)
    rollups.catch_up_all(db, clock)
    before = values(db)
    rollups.rebuild(db, clock)
    assert values(db) == before
    rollups.catch_up_all(db, clock)  # nothing new: the cursor was moved by the rebuild
    assert values(db) == before


def test_filters_and_groups(db: Any, clock: Any) -> None:
    ids = world(db, clock)
    rollups.rebuild(db, clock)
    team = values(db, Filters(team_id=ids["service"]))  # c1, c2, c7
    assert team["resolution_rate"].denominator == 3 and team["resolution_rate"].numerator == 2
    assert team["compensation_paid"].value == 230.0  # both payouts are the service team's
    phone = values(db, Filters(channel="phone"))  # c1, c3, c4
    assert phone["resolution_rate"].denominator == 3
    quality = values(db, Filters(category_id=ids["broken"]))
    assert quality["resolution_rate"].denominator == 1
    with db.session(write=False) as session:
        top = build.category(session, "产品质量").id
    assert values(db, Filters(category_id=top))["resolution_rate"].denominator == 2
    watch = values(db, Filters(product="智能手表 S3"))
    assert (watch["complaint_rate"].numerator, watch["complaint_rate"].denominator) == (1, 20000)
    with db.session(write=False) as session:
        rates = {r.key: r for r in service.complaint_rate(session, NOV, DEC, Filters())}
        assert rates["降噪耳机 X1"].value == 1.0 and rates["智能手表 S3"].value == 0.5
        daily = service.series(
            session,
            metric="complaints",
            by="day",
            group=None,
            start=NOV,
            end=DEC,
            filters=Filters(),
        )
        assert [(p.period.day, p.value) for p in daily] == [
            (2, 1.0),
            (3, 1.0),
            (4, 1.0),
            (5, 1.0),
            (30, 1.0),
        ]
        cats = service.series(
            session,
            metric="complaints",
            by="month",
            group="category",
            start=NOV,
            end=DEC,
            filters=Filters(),
        )
        by_label = {p.label: p.value for p in cats}
        assert by_label == {"产品质量": 2.0, "物流服务": 2.0, "未指定": 1.0}
        children = service.series(
            session,
            metric="complaints",
            by="month",
            group="category",
            start=NOV,
            end=DEC,
            filters=Filters(category_id=top),
        )
        assert {p.label: p.value for p in children} == {"功能故障": 1.0, "包装破损": 1.0}
        weekly = service.series(
            session,
            metric="resolution_rate",
            by="week",
            group="team",
            start=NOV,
            end=DEC,
            filters=Filters(),
        )
        assert all(p.period.weekday() == 0 for p in weekly)
        # the direct computation agrees with the rollups for every group
        for dim in (None, *service.GROUP_DIM.values()):
            assert sorted(
                map(_norm, service.fact_rows(session, NOV, DEC, Filters(), dim))
            ) == sorted(map(_norm, service.direct_rows(session, NOV, DEC, Filters(), dim)))


def _norm(row: Any) -> tuple[Any, ...]:
    return (row[0], str(row[1]), tuple(row[2]))
