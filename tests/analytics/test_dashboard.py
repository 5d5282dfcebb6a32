"""The dashboard page (/dashboard): who may open it and what each role sees, in Chinese and
English; a team lead's dashboard counts their team only; every chart has its table and its
JSON; the category drill-down leads to the next level and, at a leaf, to the workbench
filtered by that category and period, which lists exactly those complaints; top issues this
week against last; a spike links to its complaints; bad filters are a 422 naming them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kesu.accounts.models import User
from kesu.analytics import dashboard, rollups
from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.taxonomy.models import Category
from tests.flows import create
from tests.web.conftest import HTML, login

QUALITY = "产品质量/功能故障/无法开机"  # team quality
QUALITY_2 = "产品质量/功能故障/死机卡顿"
LOGISTICS = "物流服务/配送延误/超时未送达"  # team logistics


def received(clock: Any, days: int, hours: int = 0) -> str:
    return (clock.now() - timedelta(days=days, hours=hours)).isoformat()


def seed(db: Any, clock: Any) -> dict[str, list[int]]:
    """This week: 3 无法开机, 1 死机卡顿, 2 超时未送达; last week: 1 无法开机, 2 超时未送达."""
    made: dict[str, list[int]] = {"this": [], "last": []}
    for path, days in (
        (QUALITY, 0),
        (QUALITY, 1),
        (QUALITY, 2),
        (QUALITY_2, 3),
        (LOGISTICS, 1),
        (LOGISTICS, 4),
    ):
        made["this"].append(create(db, clock, category=path, received_at=received(clock, days)))
    for path, days in ((QUALITY, 8), (LOGISTICS, 9), (LOGISTICS, 10)):
        made["last"].append(create(db, clock, category=path, received_at=received(clock, days)))
    rollups.catch_up_all(db, clock)  # what the worker's pass does
    return made


def json_of(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="dash-data">(.*?)</script>', html, re.S)
    assert found, "no chart data in the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def table(html: str, chart: str) -> dict[str, str]:
    """A chart's table as {row label: first value}."""
    found = re.search(
        rf'<table class="list num-table" data-table="{chart}">(.*?)</table>', html, re.S
    )
    assert found, f"no table for {chart}"
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td class="num">(.*?)</td>', found.group(1))
    return {unescape(re.sub(r"<[^>]+>", "", label)): value for label, value in rows}


def category_id(db: Any, path: str) -> int:
    with db.session(write=False) as session:
        found = session.scalar(select(Category.id).where(Category.path == path))
        assert found is not None
        return found


@pytest.fixture
def browser(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers=HTML) as client:
        yield client


@pytest.fixture
def seeded(db: Any, clock: Any) -> dict[str, list[int]]:
    return seed(db, clock)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # HTTP and words: once
@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh_CN", ("分析看板", "按分类", "本周与上周的主要问题", "异常上升", "表格", "产品质量")),
        ("en", ("Dashboard", "By category", "Top issues", "Spikes", "Table", "Product quality")),
    ],
)
def test_a_manager_sees_the_whole_dashboard_in_their_language(
    browser: Any, make_user: Any, seeded: Any, lang: str, words: tuple[str, ...]
) -> None:
    make_user("boss", "manager", None)
    browser.cookies.set("lang", lang)
    assert login(browser, "boss").status_code == 303
    page = browser.get("/dashboard")
    assert page.status_code == 200, page.text
    html = page.text
    for word in words:
        assert word in html, word
    assert 'href="/dashboard"' in html  # the nav link
    data = json_of(html)
    assert {"trend", "category", "product", "region", "channel", "team", "handler", "rate"} <= set(
        data
    )
    # every chart's numbers are in its table too: 9 complaints in the last 30 days
    categories = table(html, "category")
    assert sum(int(v) for v in categories.values()) == 9
    assert data["category"]["series"][0]["data"] == [int(v) for v in categories.values()]
    assert sum(data["trend"]["series"][0]["data"]) == 9
    assert 'class="kpi' in html and 'data-kpi="response_rate"' in html
    assert "echarts.min.js" in html and "kesu-dashboard.js" in html


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # HTTP and words: once
def test_who_may_open_it(client: Any, make_user: Any) -> None:
    """Executives, admins and auditors see it (with the nav link); agents and finance
    approvers are refused and get no link."""
    html_headers = {"Accept": "text/html"}
    for role in ("executive", "admin", "auditor", "agent", "finance_approver"):
        _user, headers = make_user(f"u_{role}", role, "service")
        page = client.get("/dashboard", headers={**headers, **html_headers})
        if role in ("agent", "finance_approver"):
            assert page.status_code == 403, role
            home = client.get("/", headers={**headers, **html_headers}).text
            assert 'href="/dashboard"' not in home, role
        else:
            assert page.status_code == 200, role
            assert 'href="/dashboard"' in page.text, role


def test_a_team_lead_sees_their_team_only(
    browser: Any, make_user: Any, seeded: Any, db: Any
) -> None:
    make_user("qlead", "team_lead", "engineering")
    assert login(browser, "qlead").status_code == 303
    with db.session(write=False) as session:
        teams = {
            c.id: c.team.code if c.team else None
            for c in session.scalars(select(Complaint)).unique()
        }
    # routed by category: 功能故障 to engineering, 物流服务 to logistics
    assert set(teams.values()) == {"engineering", "logistics"}
    quality = sum(1 for code in teams.values() if code == "engineering")
    for url in ("/dashboard", "/dashboard?team=logistics"):  # the URL cannot widen the scope
        html = browser.get(url).text
        data = json_of(html)
        assert sum(data["trend"]["series"][0]["data"]) == quality
        assert "team" not in data and "region" not in data and "rate" not in data  # smaller
        assert "物流服务" not in table(html, "category")
        assert "handler" in data
    # the drill-down of a lead lands on their team queue
    assert 'href="/?tab=team&amp;' in html


def test_the_category_drill_down_ends_on_the_filtered_workbench(
    browser: Any, make_user: Any, seeded: Any, db: Any, clock: Any
) -> None:
    make_user("boss", "manager", None)
    assert login(browser, "boss").status_code == 303
    top, middle, leaf = (category_id(db, p) for p in ("产品质量", "产品质量/功能故障", QUALITY))
    links = dict(
        zip(
            *(
                json_of(browser.get("/dashboard?period=7d").text)["category"][k]
                for k in ("x", "links")
            ),
            strict=True,
        )
    )
    assert links["产品质量"].startswith("/dashboard?") and f"category={top}" in links["产品质量"]
    level2 = json_of(browser.get(links["产品质量"]).text)["category"]
    assert level2["x"] == ["功能故障"] and f"category={middle}" in level2["links"][0]
    level3 = json_of(browser.get(level2["links"][0]).text)["category"]
    assert level3["x"] == ["无法开机", "死机卡顿"] and level3["series"][0]["data"] == [3, 1]
    target = level3["links"][0]
    today = clock.now().astimezone(LOCAL_TZ).date()
    assert target.startswith("/?tab=all&status=any&")
    assert f"category={leaf}" in target
    assert f"received_from={(today - timedelta(days=6)).isoformat()}" in target
    assert f"received_to={today.isoformat()}" in target
    workbench = browser.get(target).text
    with db.session(write=False) as session:
        wanted = {
            c.number
            for c in session.scalars(select(Complaint).where(Complaint.category_id == leaf))
            if c.received_at >= clock.now() - timedelta(days=7)
        }
    shown = set(re.findall(r"TS\d{8}-\d{6}", workbench))
    assert shown == wanted and len(wanted) == 3  # the one of last week is not there
    assert 'id="wb-drill"' in workbench
    # a middle level on the workbench includes its descendants
    wider = browser.get(target.replace(f"category={leaf}", f"category={middle}")).text
    assert len(set(re.findall(r"TS\d{8}-\d{6}", wider))) == 4


def test_top_issues_compare_this_week_with_last(
    db: Any, clock: Any, make_user: Any, seeded: Any
) -> None:
    user, _headers = make_user("boss", "manager", None)
    today = clock.now().astimezone(LOCAL_TZ).date()
    with db.session(write=False) as session:
        boss = session.get(User, user.id)
        assert boss is not None
        q = dashboard.parse(session, boss, today)
        categories = {c.id: c for c in session.scalars(select(Category))}
        top = dashboard.top_issues(session, boss, q, today, categories)
    rows = {t.label: (t.this_week, t.last_week, t.change) for t in top}
    assert rows == {"产品质量": (4, 1, 3), "物流服务": (2, 2, 0)}
    assert [t.label for t in top] == ["产品质量", "物流服务"]
    assert top[0].change_pct == pytest.approx(3.0)
    assert top[0].link is not None and "received_from=" in top[0].link


def test_a_spike_today_is_listed_with_a_link_to_its_complaints(
    browser: Any, make_user: Any, db: Any, clock: Any
) -> None:
    for days in range(1, 9, 2):  # a quiet baseline: one every other day
        create(db, clock, category=QUALITY, received_at=received(clock, days))
    for hours in range(6):  # then six this morning
        create(
            db,
            clock,
            category=QUALITY,
            received_at=(clock.now() - timedelta(minutes=10 * hours)).isoformat(),
        )
    rollups.catch_up_all(db, clock)
    make_user("boss", "manager", None)
    assert login(browser, "boss").status_code == 303
    html = browser.get("/dashboard").text
    section = html[html.index('id="spikes"') : html.index("</section>", html.index('id="spikes"'))]
    assert "产品质量 › 功能故障 › 无法开机" in section  # the deepest category that rose
    leaf = category_id(db, QUALITY)
    today = clock.now().astimezone(LOCAL_TZ).date().isoformat()
    assert f"category={leaf}" in section and f"received_from={today}" in section


BAD = (
    ("period=forever", "period"),
    ("from=2026-11-10&to=2026-11-01", "to"),
    ("from=2026-13-01&to=2026-11-01", "from"),
    ("from=2020-01-01&to=2026-11-01", "from"),
    ("by=hour", "by"),
    ("metric=happiness", "metric"),
    ("channel=pigeon", "channel"),
    ("team=nosuchteam", "team"),
    ("category=999999", "category"),
    ("category=0", "category"),
    ("product=" + "x" * 129, "product"),
)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # HTTP and words: once
def test_bad_filters_are_refused_naming_them(client: Any, make_user: Any) -> None:
    _user, headers = make_user("boss", "manager", None)
    for query, field in BAD:
        response = client.get(f"/dashboard?{query}", headers=headers)
        assert response.status_code == 422, (query, response.text)
        assert field in json.dumps(response.json()), (query, response.json())


def test_the_workbench_takes_the_dashboards_filters(
    browser: Any, make_user: Any, seeded: Any, db: Any, clock: Any
) -> None:
    """The links of the product, region and team bars: the workbench filters by them."""
    other = create(
        db,
        clock,
        category=LOGISTICS,
        product="手机 K60",
        customer={"name": "李先生", "phone": "13900001111", "region": "北京"},
    )
    with db.session(write=False) as session:
        found = session.get(Complaint, other)
        assert found is not None
        number = found.number
    make_user("boss", "manager", None)
    assert login(browser, "boss").status_code == 303

    def numbers(query: str) -> set[str]:
        return set(re.findall(r"TS\d{8}-\d{6}", browser.get(f"/?tab=all&status=any&{query}").text))

    assert numbers("product=手机 K60") == {number}
    assert numbers("region=北京") == {number}
    assert len(numbers("region=上海")) == 9
    assert len(numbers("team=logistics")) == 5 and number in numbers("team=logistics")
    assert len(numbers("team=logistics&received_from=2000-01-01&received_to=not-a-day")) == 5
