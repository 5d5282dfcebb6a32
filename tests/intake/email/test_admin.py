"""Mailboxes in the admin UI and the API: validation, the password never shown, the pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.intake.email.mailboxes import password_for
from kesu.intake.email.models import InboundMessage, Mailbox
from tests.web.conftest import HTML, csrf_of, login

BODY = {
    "code": "support",
    "name": "客服邮箱",
    "host": "imap.kesu-shop.com",
    "port": 993,
    "tls": "ssl",
    "username": "support@kesu-shop.com",
    "password": "s3cret-imap-pass",
}


def stored(db, code="support") -> Mailbox:
    with db.session(write=False) as session:
        row = session.scalar(select(Mailbox).where(Mailbox.code == code))
        assert row is not None
        return row


def test_create_list_and_edit_by_api(client, admin, db, settings):
    made = client.post("/api/v1/email/mailboxes", json=BODY, headers=admin)
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["password"] == "stored" and "s3cret" not in made.text
    row = stored(db)
    assert row.password_encrypted and "s3cret" not in row.password_encrypted
    assert password_for(settings, row) == "s3cret-imap-pass"
    listed = client.get("/api/v1/email/mailboxes", headers=admin)
    assert listed.status_code == 200 and "s3cret" not in listed.text
    patched = client.patch(
        f"/api/v1/email/mailboxes/{out['id']}",
        json={"poll_seconds": 300, "is_active": False, "folder": "客诉"},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["poll_seconds"], patched.json()["is_active"]) == (300, False)
    assert stored(db).password_encrypted == row.password_encrypted  # kept when not sent
    with db.session(write=False) as session:
        audits = session.scalars(select(AuditLog).where(AuditLog.action == "mailbox.save"))
        assert len(list(audits)) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"host": "bad host!"}, "host"),
        ({"host": "-x.example.com"}, "host"),
        ({"port": 0}, "port"),
        ({"tls": "maybe"}, "tls"),
        ({"poll_seconds": 5}, "poll_seconds"),
        ({"password": None}, "password"),
        ({"password": None, "password_env": "1BAD"}, "password_env"),
        ({"category": "不存在/的/分类"}, "category"),
        ({"team": "nope"}, "team"),
        ({"own_addresses": ["not an address"]}, "own_addresses"),
        ({"folder": 'IN"BOX'}, "folder"),
        ({"code": "Bad Code"}, "code"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client, admin, db, change, field):
    body = {**BODY, **change}
    if body.get("password") is None:
        body.pop("password")
    response = client.post("/api/v1/email/mailboxes", json=body, headers=admin)
    assert response.status_code == 422, response.text
    detail = response.json()
    named = detail.get("field") or " ".join(str(e.get("loc")) for e in detail.get("errors", []))
    assert field in named
    with db.session(write=False) as session:
        assert session.scalar(select(Mailbox.id)) is None


def test_loopback_is_allowed_for_our_own_mail_server(client, admin):
    body = {**BODY, "host": "127.0.0.1", "port": 143, "tls": "none"}
    assert client.post("/api/v1/email/mailboxes", json=body, headers=admin).status_code == 201


def test_a_duplicate_code_is_a_409(client, admin):
    assert client.post("/api/v1/email/mailboxes", json=BODY, headers=admin).status_code == 201
    again = client.post("/api/v1/email/mailboxes", json=BODY, headers=admin)
    assert again.status_code == 409 and again.json()["field"] == "code"


def test_only_admins(client, agent, lead):
    for headers in (agent, lead):
        assert client.get("/api/v1/email/mailboxes", headers=headers).status_code == 403
        posted = client.post("/api/v1/email/mailboxes", json=BODY, headers=headers)
        assert posted.status_code == 403
    assert client.get("/api/v1/email/messages").status_code == 401


@pytest.fixture
def admin_browser(app, make_user):
    with TestClient(app, headers=HTML) as browser:
        make_user("admin2", "admin", None)
        assert login(browser, "admin2").status_code == 303
        yield browser


def test_the_pages_create_edit_and_disable(admin_browser, db, clock):
    page = admin_browser.get("/admin/mailboxes")
    assert page.status_code == 200 and "添加邮箱" in page.text
    form = {k: str(v) for k, v in BODY.items()} | {
        "is_active": "1",
        "csrf_token": csrf_of(page.text),
    }
    made = admin_browser.post("/admin/mailboxes", data=form)
    assert made.status_code == 200 and "已添加邮箱「客服邮箱」" in made.text
    assert "s3cret" not in made.text  # never shown back
    row = stored(db)
    edit = admin_browser.get(f"/admin/mailboxes/{row.id}")
    saved = admin_browser.post(
        f"/admin/mailboxes/{row.id}",
        data={**form, "password": "", "poll_seconds": "120", "csrf_token": csrf_of(edit.text)},
    )
    assert saved.status_code == 200 and "已保存邮箱" in saved.text
    assert stored(db).poll_seconds == 120
    assert stored(db).password_encrypted == row.password_encrypted
    bad = admin_browser.post(
        f"/admin/mailboxes/{row.id}",
        data={**form, "host": "no such host!", "csrf_token": csrf_of(edit.text)},
    )
    assert bad.status_code == 422 and "服务器地址" in bad.text
    off = admin_browser.post(
        f"/admin/mailboxes/{row.id}/active",
        data={"active": "0", "csrf_token": csrf_of(edit.text)},
    )
    assert off.status_code == 200 and not stored(db).is_active
    en = admin_browser.get("/admin/mailboxes", headers={"Accept-Language": "en"})
    assert en.status_code == 200 and "添加邮箱" not in en.text


def test_review_raw_download(admin_browser, db, clock, client, admin):
    made = client.post("/api/v1/email/mailboxes", json=BODY, headers=admin).json()
    with db.session() as session:
        session.add(
            InboundMessage(
                mailbox_id=made["id"],
                uidvalidity=1,
                uid=1,
                status="review",
                reason="x",
                raw=b"From: a@b.c\r\n\r\n<script>",
                received_at=clock.now(),
                detail={},
            )
        )
    with db.session(write=False) as session:
        row_id = session.scalar(select(InboundMessage.id))
    page = admin_browser.get(f"/admin/mailboxes/{made['id']}")
    assert f"/admin/mailboxes/messages/{row_id}/raw" in page.text
    raw = admin_browser.get(f"/admin/mailboxes/messages/{row_id}/raw")
    assert raw.status_code == 200 and raw.content.endswith(b"<script>")
    assert raw.headers["content-disposition"].startswith("attachment")
    assert raw.headers["x-content-type-options"] == "nosniff"
    queue = client.get("/api/v1/email/messages?status=review", headers=admin).json()
    assert [m["id"] for m in queue["items"]] == [row_id]
    assert admin_browser.get("/admin/mailboxes/messages/999/raw").status_code == 404


def test_a_review_mail_is_registered_by_staff(admin_browser, db, clock, client, admin):
    from kesu.complaints.models import Complaint
    from tests.intake.email import mails

    made = client.post("/api/v1/email/mailboxes", json=BODY, headers=admin).json()
    raw = mails.raw(mails.new_mail(subject="转来的投诉", sender="客户 <kehu@example.com>"))
    with db.session() as session:
        session.add(
            InboundMessage(
                mailbox_id=made["id"],
                uidvalidity=1,
                uid=9,
                status="review",
                reason="reply from another address",
                raw=raw,
                received_at=clock.now(),
                detail={},
            )
        )
    with db.session(write=False) as session:
        row_id = session.scalar(select(InboundMessage.id))
    page = admin_browser.get("/admin/mailboxes")
    assert f"/admin/mailboxes/messages/{row_id}/register" in page.text
    done = admin_browser.post(
        f"/admin/mailboxes/messages/{row_id}/register", data={"csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 200 and "已登记为投诉" in done.text
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint))
        row = session.get(InboundMessage, row_id)
        assert (complaint.title, complaint.channel) == ("转来的投诉", "email")
        assert (row.status, row.complaint_id) == ("complaint", complaint.id)
    again = admin_browser.post(
        f"/admin/mailboxes/messages/{row_id}/register", data={"csrf_token": csrf_of(page.text)}
    )
    assert again.status_code == 200 and "没有待人工查看的这封邮件" in again.text
    with db.session(write=False) as session:
        assert len(list(session.scalars(select(Complaint)))) == 1
