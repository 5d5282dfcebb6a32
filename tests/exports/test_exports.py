"""Exports of the workbench list: rows and masking per role, formula cells neutralised, CSV
BOM and Chinese, background jobs (worker, progress, download, expiry, failure), audit rows."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from kesu.exports import service
from kesu.exports.models import ExportJob
from tests.exports.conftest import PHONE, exports_audited, read_csv
from tests.flows import worker

URL = "/api/v1/complaints/export"


def numbers(rows: list[list[Any]]) -> set[str]:
    return {str(r[0]) for r in rows[1:]}


def test_manager_csv_has_every_row_unmasked_with_a_bom_and_chinese_headers(client, db, data):
    answer = client.get(URL, params={"format": "csv"}, headers=data["headers"]["manager"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = read_csv(answer.content)
    assert rows[0][:4] == ["编号", "受理时间", "渠道", "分类"]
    assert len(rows) == 1 + 3
    first = next(r for r in rows if r[15] == "'=1+1")
    header = rows[0]
    assert first[header.index("客户电话")] == PHONE
    assert first[header.index("客户姓名")] == "王小明"
    assert first[header.index("客户邮箱")] == "xiaoming@example.com"
    (audit,) = exports_audited(db)
    assert audit.entity == "complaints"
    assert audit.changes == {"rows": 3, "masked": False, "filters": {"format": "csv"}}


def test_formula_cells_are_neutralised_in_csv(client, data):
    rows = read_csv(
        client.get(URL, params={"format": "csv"}, headers=data["headers"]["manager"]).content
    )
    header = rows[0]
    hostile = next(r for r in rows if r[header.index("标题")].endswith("=1+1"))
    assert hostile[header.index("标题")] == "'=1+1"
    assert hostile[header.index("订单号")] == "'@SUM(A1)"
    assert hostile[header.index("产品")] == "'-2"
    assert hostile[header.index("内容")].startswith("'+cmd|")
    for row in rows:
        for cell in row:
            assert not cell.startswith(service.FORMULA_START), cell


def test_lead_sees_their_team_only_and_auditor_sees_everything_masked_in_xlsx(client, db, data):
    lead = client.get(URL, params={"format": "xlsx"}, headers=data["headers"]["team_lead"])
    assert lead.status_code == 200, lead.text
    book = load_workbook(io.BytesIO(lead.content))
    sheet = book.active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(rows) == 1 + 2  # team service's two, not logistics' one
    phone_at = rows[0].index("客户电话")
    assert PHONE in {r[phone_at] for r in rows[1:]}  # leads have contact.view

    auditor = client.get(URL, params={"format": "xlsx"}, headers=data["headers"]["auditor"])
    sheet = load_workbook(io.BytesIO(auditor.content)).active
    cells = list(sheet.iter_rows())
    rows = [[c.value for c in r] for r in cells]
    assert len(rows) == 1 + 3
    header = rows[0]
    hostile = next(i for i, r in enumerate(rows) if r[header.index("标题")] == "'=1+1")
    row = rows[hostile]
    assert row[header.index("客户电话")] == "138****8000"
    assert row[header.index("客户姓名")] == "王**"
    assert row[header.index("客户邮箱")] == "x***@example.com"
    assert all("13900001111" not in (r[header.index("内容")] or "") for r in rows[1:])
    for cell in cells[hostile]:
        if isinstance(cell.value, str):
            assert cell.data_type == "s" and not cell.value.startswith(service.FORMULA_START)
    assert row[header.index("订单号")] == "'@SUM(A1)"
    assert row[header.index("产品")] == "'-2"
    audits = exports_audited(db)
    assert [(a.changes["rows"], a.changes["masked"]) for a in audits] == [(2, False), (3, True)]


def test_filters_are_the_lists(client, data):
    headers = data["headers"]["manager"]
    listed = client.get("/api/v1/complaints", params={"team": "logistics"}, headers=headers)
    exported = client.get(URL, params={"format": "csv", "team": "logistics"}, headers=headers)
    assert numbers(read_csv(exported.content)) == {c["number"] for c in listed.json()["items"]}
    assert len(listed.json()["items"]) == 1
    none = client.get(URL, params={"format": "csv", "open": "false"}, headers=headers)
    assert len(read_csv(none.content)) == 1  # the header alone


def test_english_headers(client, data):
    headers = {**data["headers"]["manager"], "Accept-Language": "en"}
    rows = read_csv(client.get(URL, params={"format": "csv"}, headers=headers).content)
    assert rows[0][:3] == ["Number", "Received", "Channel"]


BAD = [
    ({"format": "pdf"}, "format"),
    ({"format": "csv", "stage": "nope"}, "stage"),
    ({"format": "csv", "severity": "huge"}, "severity"),
    ({"format": "csv", "queue": "all"}, "queue"),
    ({"format": "csv", "open": "maybe"}, "open"),
    ({"format": "csv", "team": "no-such-team"}, "team"),
    ({"format": "csv", "assignee": "nobody"}, "assignee"),
    ({"format": "csv", "q": "x" * 201}, "q"),
]


def test_agents_are_refused_and_bad_parameters_are_a_422_naming_them(client, db, data):
    answer = client.get(URL, params={"format": "csv"}, headers=data["headers"]["agent"])
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"
    for params, field in BAD:
        answer = client.get(URL, params=params, headers=data["headers"]["manager"])
        assert answer.status_code == 422, (params, answer.text)
        body = answer.json()
        assert field in (body.get("field"), *(e.get("field") for e in body.get("errors", []))), (
            params,
            body,
        )
    assert exports_audited(db) == []


def test_a_large_export_runs_in_the_background(client, db, clock, settings, data):
    settings.export_sync_max_rows = 1
    headers = data["headers"]["manager"]
    answer = client.get(URL, params={"format": "xlsx", "team": "service"}, headers=headers)
    assert answer.status_code == 202, answer.headers
    job = answer.json()
    assert job["status"] == "queued" and job["download_url"] is None
    assert answer.headers["location"] == f"/api/v1/exports/{job['id']}"
    assert exports_audited(db) == []  # audited when written
    assert client.get(f"/api/v1/exports/{job['id']}/download", headers=headers).status_code == 409

    seen: list[int] = []
    claimed = service._claim(db, clock.now())
    assert claimed is not None
    service.run_job(db, clock, settings, *claimed, chunk=1, on_chunk=seen.append)
    assert seen == [1, 2]  # written and committed chunk by chunk

    done = client.get(f"/api/v1/exports/{job['id']}", headers=headers).json()
    assert done["status"] == "done" and done["progress"] == 1 and done["rows"] == 2
    download = client.get(done["download_url"], headers=headers)
    assert download.status_code == 200
    page = client.get("/exports", headers=headers).text
    assert f'href="{done["download_url"]}"' in page and "可下载" in page
    rows = list(load_workbook(io.BytesIO(download.content)).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 2
    (audit,) = exports_audited(db)
    assert audit.changes["rows"] == 2 and audit.changes["filters"]["job"] == job["id"]
    assert audit.changes["filters"]["team"] == "service"

    # Only the requester and admins: another manager is told there is no such export.
    assert client.get(done["download_url"], headers=data["headers"]["executive"]).status_code == 404
    assert client.get(done["download_url"], headers=data["headers"]["admin"]).status_code == 200
    mine = client.get("/api/v1/exports", headers=headers).json()["items"]
    assert [j["id"] for j in mine] == [job["id"]]
    assert client.get("/api/v1/exports", headers=data["headers"]["admin"]).json()["items"] == []

    # Expiry: the worker removes the file and marks the job.
    with db.session(write=False) as session:
        path = service.job_path(settings, session.get(ExportJob, job["id"]))
    assert path is not None and path.is_file()
    clock.advance(timedelta(hours=settings.export_keep_hours, minutes=1))
    worker(db, settings, clock).run_once()
    assert not path.exists()
    gone = client.get(f"/api/v1/exports/{job['id']}", headers=headers).json()
    assert gone["status"] == "expired" and gone["download_url"] is None
    assert client.get(f"/api/v1/exports/{job['id']}/download", headers=headers).status_code == 409


def test_the_worker_pass_writes_a_csv_job(client, db, clock, settings, data):
    settings.export_sync_max_rows = 1
    headers = data["headers"]["auditor"]
    job = client.get(URL, params={"format": "csv"}, headers=headers).json()
    stats = worker(db, settings, clock).run_once()
    assert stats.exports == 1
    done = client.get(f"/api/v1/exports/{job['id']}", headers=headers).json()
    assert done["status"] == "done" and done["masked"] is True and done["total"] == 3
    rows = read_csv(client.get(done["download_url"], headers=headers).content)
    assert len(rows) == 1 + 3
    assert "138****8000" in {r[rows[0].index("客户电话")] for r in rows}
    assert PHONE not in str(rows)


def test_a_failed_job_is_recorded(db, clock, settings, make_user):
    manager = make_user("manager1", "manager", None)[0]
    with db.session() as session:
        session.add(
            ExportJob(
                user_id=manager.id,
                format="csv",
                filters={"stage": "no-such-stage"},
                created_at=clock.now(),
            )
        )
        session.commit()
    assert service.run_due(db, clock, settings) == 1
    with db.session(write=False) as session:
        (job,) = session.query(ExportJob).all()
    assert job.status == "failed" and "no-such-stage" in job.error
    assert list(service.export_dir(settings).glob(f".{job.id}-*")) == []
    assert exports_audited(db) == []


def test_a_browser_is_sent_to_the_exports_page(signed_in, settings, data):
    settings.export_sync_max_rows = 1
    browser = signed_in("boss", role="manager", team=None)
    answer = browser.get(URL, params={"format": "csv"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/exports?job=")
    page = browser.get(answer.headers["location"])
    assert page.status_code == 200
    assert "我的导出" in page.text and "排队中" in page.text


def test_workbench_buttons_carry_the_filters(signed_in):
    browser = signed_in("boss", role="manager", team=None)
    page = browser.get("/", params={"tab": "all", "severity": "serious", "status": "any"}).text
    assert (
        'id="export-xlsx" href="/api/v1/complaints/export?format=xlsx&amp;severity=serious"' in page
    )
    assert 'href="/api/v1/complaints/export?format=csv&amp;severity=serious"' in page
    mine = browser.get("/", params={"tab": "mine"}).text
    assert "format=csv&amp;assignee=me&amp;open=true" in mine


def test_agents_get_no_buttons_and_no_page(signed_in):
    browser = signed_in("agent9", role="agent", team="service")
    assert 'id="export-csv"' not in browser.get("/").text
    assert browser.get("/exports").status_code == 403


@pytest.mark.parametrize(
    "text", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")']
)
def test_neutralise(text):
    assert service.neutralise(text) == "'" + text
    assert service.cell_text("a\x01b") == "ab"
    assert service.neutralise("正常") == "正常"


def test_the_dashboards_drill_down_filters_are_exported_too(client, signed_in, data):
    """A workbench reached from the dashboard (product, region, received dates) exports the
    rows it lists, and its buttons carry those filters."""
    headers = data["headers"]["manager"]
    params = {"format": "csv", "product": "降噪耳机 X1"}
    assert len(read_csv(client.get(URL, params=params, headers=headers).content)) == 1 + 2
    nowhere = {**params, "region": "拉萨"}
    assert len(read_csv(client.get(URL, params=nowhere, headers=headers).content)) == 1
    today = "2026-11-23"  # the frozen clock's local day
    window = {"format": "csv", "received_from": today, "received_to": today}
    assert len(read_csv(client.get(URL, params=window, headers=headers).content)) == 1 + 3
    later = {"format": "csv", "received_from": "2026-11-24"}
    assert len(read_csv(client.get(URL, params=later, headers=headers).content)) == 1
    bad = client.get(URL, params={"received_from": "1-2-3"}, headers=headers)
    assert bad.status_code == 422 and "received_from" in bad.text
    browser = signed_in("boss2", role="manager", team=None)
    page = browser.get("/", params={"tab": "all", "product": "降噪耳机 X1", "received_from": today})
    assert "product=%E9%99%8D%E5%99%AA%E8%80%B3%E6%9C%BA+X1" in page.text
    assert f"received_from={today}" in page.text
