"""Reports on demand: the Excel figures equal the KPI service's, a team lead's report is their
team's, bad periods and formats are 4xx, the PDF is a PDF in the caller's language."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from kesu.analytics import service as analytics
from tests.reports.conftest import NOVEMBER, november, sheets, team_id, token

API = "/api/v1/reports"


def kpis(db, team: int | None = None):
    with db.session(write=False) as session:
        return analytics.kpis(
            session, start=NOVEMBER[0], end=NOVEMBER[1], filters=analytics.Filters(team_id=team)
        )


def test_the_workbook_figures_equal_the_kpi_service(db, settings, clock, client):
    made = november(db, settings, clock)
    answer = client.get(
        f"{API}/monthly",
        params={"period": "2026-11", "format": "xlsx"},
        headers=token(db, clock, "manager_a"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "kesu-report-2026-11.xlsx" in answer.headers["content-disposition"]
    book = sheets(answer.content)
    overview = book["概览"]
    assert ("投诉总数", 5) in overview and len(made["service"]) + len(made["logistics"]) == 5
    assert ("网页表单", 1) in overview and ("电话", 2) in overview
    expected = kpis(db)
    rows = {row[1]: row for row in book["关键指标与目标"][1:]}
    assert set(rows) == set(analytics.KPI_CODES)
    for code, kpi in expected.items():
        assert rows[code][2] == (pytest.approx(kpi.value) if kpi.value is not None else None)
        assert rows[code][4] == pytest.approx(kpi.numerator)
        assert rows[code][5] == pytest.approx(kpi.denominator)
    assert ("退款", 1, 199) in book["赔付"]
    assert book["整改措施"][1][2] == "加强出厂检测"
    products = [r for r in book["主要问题"] if r[0] == "产品"]
    assert ("产品", "扫地机器人 R2", 2) in products


def test_a_team_lead_gets_their_own_teams_report(db, settings, clock, client):
    november(db, settings, clock)
    lead = token(db, clock, "lead_a")
    other = team_id(db, "logistics")
    for params in ({}, {"team": str(other)}):  # asking for another team changes nothing
        answer = client.get(
            f"{API}/monthly", params={"period": "2026-11", "format": "xlsx", **params}, headers=lead
        )
        assert answer.status_code == 200, answer.text
        book = sheets(answer.content)
        assert ("投诉总数", 3) in book["概览"]
        assert ("退款", 1, 199) in book["赔付"]
        assert book["整改措施"][1][2] == "加强出厂检测"
    mine = kpis(db, team_id(db, "service"))
    rows = {row[1]: row for row in book["关键指标与目标"][1:]}
    assert rows["repeat_rate"][5] == pytest.approx(mine["repeat_rate"].denominator)
    # a manager may choose a team; logistics has no payout and two complaints
    answer = client.get(
        f"{API}/monthly",
        params={"period": "2026-11", "format": "xlsx", "team": str(other)},
        headers=token(db, clock, "manager_a"),
    )
    book = sheets(answer.content)
    assert ("投诉总数", 2) in book["概览"] and len(book["赔付"]) == 2  # header and total only


def test_the_quarterly_pdf_in_english(db, settings, clock, client):
    november(db, settings, clock)
    answer = client.get(
        f"{API}/quarterly",
        params={"period": "2026-Q4"},
        headers={**token(db, clock, "manager_a"), "Accept-Language": "en"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(answer.content)).pages)
    assert "Quarterly complaint analysis report" in text and "2026-Q4" in text
    assert "Corrective actions" in text and "加强出厂检测" in text  # people's words as written


BAD = [
    ("monthly", {"period": "2026-12"}, "period"),  # future
    ("monthly", {"period": "2026-13"}, "period"),
    ("monthly", {"period": "2026-Q4"}, "period"),
    ("monthly", {"period": "yesterday"}, "period"),
    ("monthly", {"period": "x" * 17}, "period"),
    ("quarterly", {"period": "2027-Q1"}, "period"),
    ("quarterly", {"period": "2026-11"}, "period"),
    ("monthly", {"period": "2026-11", "format": "docx"}, "format"),
    ("monthly", {}, "period"),
    ("monthly", {"period": "2026-11", "team": "0"}, "team"),
]


def test_bad_periods_and_formats_are_422_naming_the_field(db, clock, client, make_user):
    _, headers = make_user("manager1", "manager", None)
    for path, params, field in BAD:
        answer = client.get(f"{API}/{path}", params=params, headers=headers)
        assert answer.status_code == 422, (params, answer.text)
        body = answer.json()
        assert body.get("field") == field or field in str(body.get("errors", "")), (params, body)


def test_who_may_read_reports(db, clock, client, make_user):
    _, agent = make_user("agent1", "agent", "service")
    assert client.get(f"{API}/monthly?period=2026-11", headers=agent).status_code == 403
    _, lead = make_user("lead0", "team_lead", None)  # a lead without a team has no report
    assert client.get(f"{API}/monthly?period=2026-11", headers=lead).status_code == 403
    _, auditor = make_user("auditor1", "auditor", None)
    answer = client.get(f"{API}/monthly?period=2026-11&format=xlsx", headers=auditor)
    assert answer.status_code == 200
    assert ("投诉总数", 0) in sheets(answer.content)["概览"]
