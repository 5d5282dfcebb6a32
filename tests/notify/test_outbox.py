"""The outbox end to end: an escalation email to a real SMTP server on loopback, signed robot
payloads to a local HTTP receiver, retries with back-off, and failures admins can see."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from kesu.notify.channels import dingtalk, feishu, webhook
from tests.flows import assign, create, make_staff, outbox, worker
from tests.notify.conftest import Answer, Received, Receiver, json_answer


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.envelopes.append(list(envelope.rcpt_tos))  # type: ignore[attr-defined]
        raw = envelope.content  # type: ignore[attr-defined]
        self.messages.append(email.message_from_bytes(raw, policy=default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def breach(db, settings, clock, http_client=None):
    """A complaint assigned to agent_a, its first response 61 minutes late: level 1."""
    make_staff(db, clock)
    complaint_id = create(db, clock)
    assign(db, clock, complaint_id, "agent_a")
    clock.advance(minutes=61)
    run = worker(db, settings, clock, http_client)
    run.run_until_idle()
    return complaint_id, run


def test_the_escalation_email_reaches_a_real_smtp_server(db, settings, clock, smtp_server):
    inbox, port = smtp_server
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    settings.smtp_from = "kesu@example.com"
    breach(db, settings, clock)
    to_lead = [
        m for m in inbox.messages if m["To"] == "lead_a@example.com" and "超时升级" in m["Subject"]
    ]
    assert len(to_lead) == 1, [m["Subject"] for m in inbox.messages]
    message = to_lead[0]
    assert message["Subject"].startswith("【超时升级·1级】TS20261123-")
    body = message.get_content()
    assert "首次响应" in body and "/complaints/TS20261123-" in body
    assert message["Message-ID"].startswith("<kesu-")
    sent = outbox(db, channel="email", recipient="lead_a@example.com", event="sla_breach")
    assert [m.status for m in sent] == ["delivered"]
    # delivered is delivered: more passes send nothing again
    count = len(inbox.messages)
    worker(db, settings, clock).run_until_idle()
    assert len(inbox.messages) == count


def test_an_english_speaking_lead_gets_english(db, settings, clock, smtp_server):
    inbox, port = smtp_server
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    make_staff(db, clock)
    with db.session() as session:
        from sqlalchemy import update

        from kesu.accounts.models import User

        session.execute(update(User).where(User.username == "lead_a").values(locale="en"))
    complaint_id = create(db, clock)
    assign(db, clock, complaint_id, "agent_a")
    clock.advance(minutes=61)
    worker(db, settings, clock).run_until_idle()
    subjects = [m["Subject"] for m in inbox.messages if m["To"] == "lead_a@example.com"]
    assert any(s.startswith("[Escalation level 1]") for s in subjects), subjects


def robot(client, admin, kind: str, url: str, secret: str) -> None:
    response = client.post(
        "/api/v1/notify/endpoints",
        headers=admin,
        json={
            "code": f"{kind}-group",
            "name": f"{kind} 客诉群",
            "kind": kind,
            "config": {"url": url, "secret": secret},
            "events": ["sla_breach", "escalated"],
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["config"]["secret"] == "***"


def test_dingtalk_and_feishu_robots_get_signed_payloads(
    client, admin, db, settings, clock, receiver: Receiver, http_client
):
    checked: list[str] = []

    def handle(request: Received) -> Answer:
        now = datetime.now(UTC)
        if request.path == "/dingtalk":
            q = request.query
            ok = dingtalk.verify("SECding", q.get("timestamp", ""), q.get("sign", ""), now)
            checked.append(f"dingtalk:{ok}")
            return json_answer({"errcode": 0 if ok else 310000, "errmsg": "ok"})
        body = request.json()
        assert isinstance(body, dict)
        ok = feishu.verify("feishu-secret", body["timestamp"], body["sign"], now)
        checked.append(f"feishu:{ok}")
        return json_answer({"code": 0 if ok else 19021, "msg": "success"})

    receiver.handle = handle
    robot(client, admin, "dingtalk", f"{receiver.url}/dingtalk?access_token=t", "SECding")
    robot(client, admin, "feishu", f"{receiver.url}/feishu", "feishu-secret")
    breach(db, settings, clock, http_client)
    assert sorted(checked) == ["dingtalk:True", "feishu:True"]
    ding = next(r for r in receiver.received if r.path == "/dingtalk").json()
    assert ding["msgtype"] == "markdown" and "超时升级" in ding["markdown"]["title"]
    fei = next(r for r in receiver.received if r.path == "/feishu").json()
    assert "首次响应" in fei["content"]["text"]
    assert {m.status for m in outbox(db, event="sla_breach") if m.endpoint_id} == {"delivered"}


def test_a_failing_receiver_is_retried_with_back_off_then_marked_failed(
    client, admin, agent, db, settings, clock, receiver: Receiver, http_client
):
    receiver.handle = lambda request: json_answer({"error": "down"}, status=503)
    response = client.post(
        "/api/v1/notify/endpoints",
        headers=admin,
        json={
            "code": "erp",
            "name": "ERP webhook",
            "kind": "webhook",
            "config": {"url": f"{receiver.url}/hook", "secret": "s3cret"},
            "events": ["sla_breach"],
        },
    )
    assert response.status_code == 201
    settings.notify_max_attempts = 4
    breach(db, settings, clock, http_client)
    (row,) = outbox(db, channel="webhook")
    assert row.status == "pending" and row.attempts == 1
    assert row.available_at == clock.now() + timedelta(seconds=30)
    run = worker(db, settings, clock, http_client)
    waits = []
    for _ in range(3):
        run.run_once()  # not due yet: nothing is sent
        before = len(receiver.received)
        (row,) = outbox(db, channel="webhook")
        waits.append(row.available_at - clock.now())
        clock.set(row.available_at)
        run.run_once()
        assert len(receiver.received) == before + 1
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    (row,) = outbox(db, channel="webhook")
    assert row.status == "failed" and row.attempts == 4 and "503" in row.last_error
    # every attempt carried the same delivery id and a valid signature
    ids = {r.headers["x-kesu-delivery"] for r in receiver.received}
    assert ids == {str(row.id)}
    last = receiver.received[-1]
    assert webhook.verify("s3cret", last.headers["x-kesu-signature"], last.body, datetime.now(UTC))

    failed = client.get("/api/v1/outbox", params={"status": "failed"}, headers=admin)
    assert failed.status_code == 200
    (item,) = [i for i in failed.json()["items"] if i["channel"] == "webhook"]
    assert item["attempts"] == 4 and "503" in item["last_error"]
    assert client.get("/api/v1/outbox", headers=agent).status_code == 403

    receiver.handle = lambda request: json_answer({"ok": True})
    again = client.post(f"/api/v1/outbox/{row.id}/retry", headers=admin)
    assert again.status_code == 200 and again.json()["status"] == "pending"
    run.run_once()
    assert outbox(db, id=row.id)[0].status == "delivered"
    assert client.post(f"/api/v1/outbox/{row.id}/retry", headers=admin).status_code == 409


def test_the_bell_counts_unread_and_marks_read(client, db, settings, clock):
    breach(db, settings, clock)
    from tests.flows import user

    lead = user(db, "lead_a")
    from kesu.accounts import service as accounts

    with db.session() as session:
        token = accounts.create_token(session, clock, accounts.SYSTEM, lead)
    headers = {"Authorization": f"Bearer {token}"}
    bell = client.get("/api/v1/notifications", headers=headers).json()
    assert bell["unread"] == 1 and bell["items"][0]["title"].startswith("【超时升级·1级】")
    assert bell["items"][0]["link"].startswith("/complaints/TS")
    marked = client.post("/api/v1/notifications/read", json={}, headers=headers).json()
    assert marked == {"marked": 1, "unread": 0}
    assert client.get("/api/v1/notifications?unread=true", headers=headers).json()["items"] == []


def test_users_choose_their_channels(client, db, settings, clock, agent):
    assert client.get("/api/v1/notifications/preferences", headers=agent).json()["channels"] == [
        "in_app",
        "email",
    ]
    bad = client.put("/api/v1/notifications/preferences", json={"channels": ["fax"]}, headers=agent)
    assert bad.status_code == 422 and bad.json()["field"] == "channels"
    make_staff(db, clock)
    from tests.flows import user

    lead = user(db, "lead_a")
    from kesu.accounts import service as accounts

    with db.session() as session:
        token = accounts.create_token(session, clock, accounts.SYSTEM, lead)
    headers = {"Authorization": f"Bearer {token}"}
    response = client.put(
        "/api/v1/notifications/preferences", json={"channels": ["email"]}, headers=headers
    )
    assert response.json()["channels"] == ["email"]
    complaint_id = create(db, clock)
    assign(db, clock, complaint_id, "agent_a")
    clock.advance(minutes=61)
    worker(db, settings, clock).run_once()
    assert client.get("/api/v1/notifications", headers=headers).json()["unread"] == 0
    assert len(outbox(db, channel="email", recipient="lead_a@example.com")) == 1


def test_sms_through_the_configured_gateway(
    client, admin, db, settings, clock, receiver: Receiver, http_client
):
    from kesu.notify.channels import sms

    receiver.handle = lambda request: json_answer({"code": 0})
    response = client.post(
        "/api/v1/notify/endpoints",
        headers=admin,
        json={
            "code": "sms-gw",
            "name": "短信网关",
            "kind": "sms",
            "config": {
                "url": f"{receiver.url}/sms",
                "body_template": {"mobile": "{phone}", "content": "【客诉】{title}"},
                "hmac_secret": "gw-secret",
                "success_field": "code",
            },
        },
    )
    assert response.status_code == 201, response.text
    make_staff(db, clock)
    from kesu.notify.models import NotifyPreference
    from tests.flows import user

    with db.session() as session:
        lead = user(db, "lead_a")
        session.add(NotifyPreference(user_id=lead.id, channels=["sms"], updated_at=clock.now()))
    complaint_id = create(db, clock)
    assign(db, clock, complaint_id, "agent_a")
    clock.advance(minutes=61)
    worker(db, settings, clock, http_client).run_until_idle()
    # (the customer's acknowledgement goes through the gateway too: kesu.notify.customer)
    (text,) = [r for r in receiver.received if r.path == "/sms" and "13900000000" in str(r.json())]
    body = text.json()
    assert body["mobile"] == "13900000000" and body["content"].startswith(
        "【客诉】【超时升级·1级】"
    )
    assert sms.verify(
        "gw-secret", text.headers["x-timestamp"], text.headers["x-signature"], text.body
    )
    assert [m.status for m in outbox(db, channel="sms", recipient="13900000000")] == ["delivered"]
