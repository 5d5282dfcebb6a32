"""Admins edit the customer messages (zh and en) by API and page; an unknown placeholder is
refused with a 4xx naming it, nothing saved; the saved text is what customers get."""

from __future__ import annotations

from sqlalchemy import select

from kesu.accounts.audit import AuditLog
from kesu.notify.models import CustomerTemplate
from tests.flows import create, outbox
from tests.web.conftest import HTML, csrf_of, login

API = "/api/v1/notify/customer-templates"
GOOD = {
    "title": "受理通知 {number}",
    "body": "{name}您好，编号 {number}，进度：{link}",
    "sms": "【测试】已受理{number} {link}",
}


def saved(db) -> list[CustomerTemplate]:
    with db.session(write=False) as session:
        return list(session.scalars(select(CustomerTemplate)))


def test_the_api_lists_saves_previews_and_resets(client, db, clock, admin):
    listed = client.get(API, headers=admin).json()
    assert len(listed) == 12 and {t["locale"] for t in listed} == {"zh_CN", "en"}
    ack = next(t for t in listed if t["event"] == "ack" and t["locale"] == "zh_CN")
    assert ack["custom"] is False and "link" in ack["variables"]

    bad = client.put(f"{API}/ack/zh_CN", headers=admin, json={**GOOD, "body": "{name} {solution}"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "unknown_placeholder" and bad.json()["field"] == "body"
    assert "{solution}" in bad.json()["detail"]
    assert saved(db) == []
    worse = client.put(f"{API}/ack/zh_CN", headers=admin, json={**GOOD, "title": "{__class__}"})
    assert worse.status_code == 422 and worse.json()["field"] == "title"
    assert client.put(f"{API}/nope/zh_CN", headers=admin, json=GOOD).status_code == 404
    assert client.put(f"{API}/ack/fr", headers=admin, json=GOOD).status_code == 404
    extra = client.put(f"{API}/ack/zh_CN", headers=admin, json={**GOOD, "x": 1})
    assert extra.status_code == 422

    shown = client.post(f"{API}/ack/zh_CN/preview", headers=admin, json=GOOD)
    assert shown.status_code == 200
    assert shown.json()["subject"] == "[TS20261202-000001] 受理通知 TS20261202-000001"
    assert saved(db) == []  # a preview saves nothing
    bad_preview = client.post(
        f"{API}/confirm/en/preview", headers=admin, json={**GOOD, "sms": "{reason}"}
    )
    assert bad_preview.status_code == 422

    put = client.put(f"{API}/ack/zh_CN", headers=admin, json=GOOD)
    assert put.status_code == 200 and put.json()["custom"] is True
    complaint_id = create(
        db, clock, channel="email", customer={"name": "王小明", "email": "w@example.com"}
    )
    (row,) = outbox(db, complaint_id=complaint_id)
    assert row.title.startswith("[TS") and "受理通知" in row.title  # [number] added
    assert row.body.startswith("王小明您好，编号 TS")

    reset = client.delete(f"{API}/ack/zh_CN", headers=admin)
    assert reset.status_code == 200 and reset.json()["custom"] is False
    assert saved(db) == []
    with db.session(write=False) as session:
        actions = list(
            session.scalars(
                select(AuditLog.action).where(AuditLog.action.like("notify.customer_template%"))
            )
        )
    assert actions == ["notify.customer_template.save", "notify.customer_template.reset"]


def test_only_admins_edit_templates(client, agent):
    assert client.get(API, headers=agent).status_code == 403
    assert client.put(f"{API}/ack/zh_CN", headers=agent, json=GOOD).status_code == 403


def test_the_admin_page_previews_and_refuses_unknown_placeholders(client, db, admin):
    login(client, "admin1")
    page = client.get("/admin/customer-templates", headers=HTML)
    assert page.status_code == 200 and 'id="t-confirm-en"' in page.text
    token = csrf_of(page.text)
    bad = client.post(
        "/admin/customer-templates/message/en",
        data={"csrf_token": token, "action": "save", **GOOD, "body": "Hi {nme}"},
        headers=HTML,
    )
    assert bad.status_code == 422 and "{nme}" in bad.text
    assert saved(db) == []
    preview = client.post(
        "/admin/customer-templates/message/en",
        data={"csrf_token": token, "action": "preview", **GOOD, "body": "Hi {name}: {message}"},
        headers=HTML,
    )
    assert preview.status_code == 200 and "Hi Alex Wang: We are looking into it." in preview.text
    assert saved(db) == []
    ok = client.post(
        "/admin/customer-templates/message/en",
        data={"csrf_token": token, "action": "save", **GOOD, "body": "Hi {name}: {message}"},
        headers=HTML,
    )
    assert ok.status_code == 200 and "Hi {name}: {message}" in ok.text
    (row,) = saved(db)
    assert (row.event, row.locale, row.body) == ("message", "en", "Hi {name}: {message}")
    missing = client.post(
        "/admin/customer-templates/nope/en",
        data={"csrf_token": token, "action": "save", **GOOD},
        headers=HTML,
    )
    assert missing.status_code == 404
