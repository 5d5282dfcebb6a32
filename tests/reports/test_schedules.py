"""Scheduled reports: recipients validated, the worker sends each period once, by email with
the file attached, to a real SMTP server on loopback; the /reports page."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import select

from kesu.notify.models import OutboxMessage
from kesu.reports.models import ReportRun
from tests.flows import make_staff, worker
from tests.reports.conftest import november, token
from tests.web.conftest import csrf_of, login

API = "/api/v1/reports/schedules"


def test_recipients_are_checked_and_the_bad_one_named(db, clock, client, admin):
    body = {
        "name": "月报",
        "kind": "monthly",
        "day": 1,
        "recipients": ["boss@example.com", "not-an-address"],
    }
    answer = client.post(API, json=body, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["field"] == "recipients" and "not-an-address" in answer.json()["detail"]
    for bad in ({"day": 29}, {"kind": "weekly"}, {"recipients": []}, {"format": "doc"}):
        assert client.post(API, json={**body, **bad}, headers=admin).status_code == 422
    assert client.get(API, headers=admin).json() == []  # nothing half-written


def test_only_admins_manage_schedules(db, clock, client, make_user):
    _, manager = make_user("manager1", "manager", None)
    body = {"name": "x", "kind": "monthly", "recipients": ["a@example.com"]}
    assert client.post(API, json=body, headers=manager).status_code == 403
    assert client.get(API, headers=manager).status_code == 403
    assert client.delete(f"{API}/1", headers=manager).status_code == 403


def test_a_schedule_sends_once_per_period_to_a_real_smtp_server(
    db, settings, clock, client, smtp_server
):
    inbox, port = smtp_server
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    settings.smtp_from = "kesu@example.com"
    november(db, settings, clock)
    body = {
        "name": "管理层月报",
        "kind": "monthly",
        "day": 1,
        "format": "pdf",
        "recipients": ["boss@example.com", " Deputy@Example.com ", "boss@example.com"],
    }
    made = client.post(API, json=body, headers=token(db, clock, "admin_a"))
    assert made.status_code == 201, made.text
    assert made.json()["recipients"] == ["boss@example.com", "Deputy@example.com"]
    worker(db, settings, clock).run_until_idle()  # 23 November: October's is due
    runs = lambda: [  # noqa: E731
        (r.period, r.emails) for r in _all(db, ReportRun)
    ]
    assert runs() == [("2026-10", 2)]
    assert len(reports(inbox)) == 2
    clock.advance(days=8)  # 1 December, Shanghai: November's report
    worker(db, settings, clock).run_until_idle()
    worker(db, settings, clock).run_until_idle()  # a second worker, a second pass: nothing
    assert runs() == [("2026-10", 2), ("2026-11", 2)]
    november_mail = [m for m in reports(inbox) if "2026-11" in m["Subject"]]
    assert sorted(m["To"] for m in november_mail) == ["Deputy@example.com", "boss@example.com"]
    message = november_mail[0]
    assert "月度投诉分析报告" in message["Subject"]
    files = [p for p in message.iter_attachments()]
    assert [f.get_filename() for f in files] == ["kesu-report-2026-11.pdf"]
    data = files[0].get_content()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "月度投诉分析报告" in text and "投诉总数：5" in text
    sent = [m.status for m in _all(db, OutboxMessage) if m.event == "report.scheduled"]
    assert sent == ["delivered"] * 4
    clock.advance(days=20)
    worker(db, settings, clock).run_until_idle()
    assert len(runs()) == 2 and len(reports(inbox)) == 4


def test_a_quarterly_schedule_waits_for_its_day_and_speaks_its_language(
    db, settings, clock, client, smtp_server
):
    inbox, port = smtp_server
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    november(db, settings, clock)
    body = {
        "name": "Quarterly",
        "kind": "quarterly",
        "day": 5,
        "format": "xlsx",
        "locale": "en",
        "recipients": ["cfo@example.com"],
    }
    assert client.post(API, json=body, headers=token(db, clock, "admin_a")).status_code == 201
    worker(db, settings, clock).run_until_idle()  # November: Q3 ended two months ago
    assert _all(db, ReportRun) == []
    clock.advance(days=39)  # 1 January 2027: before day 5
    worker(db, settings, clock).run_until_idle()
    assert _all(db, ReportRun) == []
    clock.advance(days=4, hours=1)  # 5 January
    worker(db, settings, clock).run_until_idle()
    assert [r.period for r in _all(db, ReportRun)] == ["2026-Q4"]
    (message,) = reports(inbox)
    assert message["Subject"].startswith("Quarterly complaint analysis report 2026-Q4")
    (file,) = list(message.iter_attachments())
    assert file.get_filename() == "kesu-report-2026-Q4.xlsx"
    assert file.get_content_type().endswith("spreadsheetml.sheet")


def test_the_reports_page(db, settings, clock, browser):
    make_staff(db, clock, {"manager_a": ("manager", None)})
    assert login(browser, "manager_a").status_code == 303
    page = browser.get("/reports")
    assert page.status_code == 200 and 'action="/reports/download"' in page.text
    assert "定时发送" not in page.text  # schedules are the admins'
    got = browser.get("/reports/download?kind=monthly&period=2026-11&format=xlsx")
    assert got.status_code == 200 and got.content[:2] == b"PK"
    bad = browser.get("/reports/download?kind=monthly&period=2030-01&format=pdf")
    assert bad.status_code == 422 and "报告期尚未开始" in bad.text
    browser.post("/logout", data={"csrf_token": csrf_of(page.text)})


def test_admins_manage_schedules_on_the_page(db, settings, clock, browser):
    make_staff(db, clock, {"admin_a": ("admin", None)})
    assert login(browser, "admin_a").status_code == 303
    page = browser.get("/reports")
    assert "定时发送" in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "name": "月报",
        "kind": "monthly",
        "day": "3",
        "format": "pdf",
        "locale": "zh_CN",
        "team": "",
        "recipients": "a@example.com\nbad@@example",
    }
    refused = browser.post("/reports/schedules", data=form)
    assert refused.status_code == 422 and "bad@@example" in refused.text
    form["recipients"] = "a@example.com, b@example.com"
    saved = browser.post("/reports/schedules", data=form, follow_redirects=False)
    assert saved.status_code == 303
    page = browser.get("/reports")
    assert "a@example.com, b@example.com" in page.text
    (schedule,) = browser.get(API).json()
    gone = browser.post(
        f"/reports/schedules/{schedule['id']}/delete",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert gone.status_code == 303 and browser.get(API).json() == []


def reports(inbox):
    return [
        m
        for m in inbox.messages
        if m["X-Kesu-Delivery"] and m.get_content_maintype() == "multipart"
    ]


def _all(db, model):
    with db.session(write=False) as session:
        return list(session.scalars(select(model).order_by(model.id)))
