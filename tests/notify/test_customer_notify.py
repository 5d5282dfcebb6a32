"""Customer notifications end to end: each event of a complaint's life reaches the customer
exactly once, by email (a real SMTP server on loopback) or by SMS (the gateway's HTTP
receiver), in their language, and only the acknowledgement once they opted out."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.audit import AuditLog
from kesu.complaints import lifecycle
from kesu.complaints.models import Complaint, ComplaintEvent, Customer
from kesu.notify import customer as customer_notify
from kesu.notify.models import NotifyEndpoint
from kesu.taxonomy import cache as config_cache
from tests.flows import actor, create, make_staff, move, note, outbox, worker
from tests.notify.conftest import Receiver, json_answer
from tests.notify.test_outbox import Inbox, smtp_server  # noqa: F401  (the fixture)
from tests.web.conftest import HTML, csrf_of

EMAIL_CUSTOMER = {"name": "王小明", "email": "xiaoming@example.com"}
PHONE_CUSTOMER = {"name": "李华", "phone": "13800138000"}


def use_smtp(settings: Any, port: int) -> None:
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    settings.smtp_from = "kesu@kesu.example"
    settings.email_reply_to = "complaints@kesu.example"


def add_gateway(db: Any, clock: Any, url: str) -> None:
    with db.session() as session:
        session.add(
            NotifyEndpoint(
                code="sms-gw",
                name="短信网关",
                kind="sms",
                config={
                    "url": f"{url}/sms",
                    "body_template": {"mobile": "{phone}", "content": "{text}"},
                },
                events=[],
                teams=[],
                locale="zh_CN",
                is_active=True,
                updated_at=clock.now(),
            )
        )
    config_cache.clear()


def token_of(db: Any, complaint_id: int) -> tuple[str, str]:
    with db.session(write=False) as session:
        c = session.get(Complaint, complaint_id)
        assert c is not None
        return c.number, c.tracking_token


def whole_life(db: Any, clock: Any, complaint_id: int, after: Any) -> list[str]:
    """Takes a complaint through every step the customer hears about; ``after()`` runs the
    worker and returns how many messages arrived so far. Returns the counts, step by step."""
    seen = [after()]  # the acknowledgement
    note(db, clock, complaint_id, True, "agent_a")  # a public message from staff
    seen.append(after())
    note(db, clock, complaint_id, False, "agent_a")  # an internal note: nothing
    move(db, clock, complaint_id, "investigating")
    move(db, clock, complaint_id, "proposing", findings="耳机左声道虚焊")
    seen.append(after())
    move(db, clock, complaint_id, "confirming", solution="为您更换一副新耳机")  # 客户确认
    seen.append(after())
    with db.session() as session:  # the customer accepts: they did it, nobody tells them
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        lifecycle.customer_respond(session, clock, complaint, True, None)
    move(db, clock, complaint_id, "feedback", measures="加强出厂检测")
    seen.append(after())
    move(db, clock, complaint_id, "rating", result="已为您换货，新耳机已寄出")  # 结果反馈
    seen.append(after())
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        lifecycle.reopen(
            session,
            clock,
            actor(db, "lead_a"),
            complaint,
            "客户反映新耳机也有杂音",
            complaint.version,
        )
    seen.append(after())
    return [str(n) for n in seen]


def test_an_email_customer_gets_one_email_per_event_threaded(db, settings, clock, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    use_smtp(settings, port)
    make_staff(db, clock)
    complaint_id = create(db, clock, channel="email", customer=EMAIL_CUSTOMER)
    number, token = token_of(db, complaint_id)
    run = worker(db, settings, clock)

    def after() -> int:
        run.run_until_idle()
        return len(inbox.messages)

    assert whole_life(db, clock, complaint_id, after) == ["1", "2", "2", "3", "3", "4", "5"]
    assert all(rcpt == ["xiaoming@example.com"] for rcpt in inbox.envelopes)
    ack, message, confirm, result, reopen = inbox.messages
    for mail in inbox.messages:
        assert f"[{number}]" in str(mail["Subject"])
        assert re.fullmatch(rf"<kesu\.{number}\.\d+@kesu\.example>", str(mail["Message-ID"]))
        assert str(mail["References"]).strip().startswith(f"<kesu.{number}@kesu.example>")
        assert str(mail["Reply-To"]) == "complaints@kesu.example"
    assert ack["In-Reply-To"] is None
    assert str(message["In-Reply-To"]).strip() == str(ack["Message-ID"]).strip()
    assert str(reopen["In-Reply-To"]).strip() == str(result["Message-ID"]).strip()
    assert "您的投诉已受理" in str(ack["Subject"])
    link = f"/t/{token}"
    assert link in ack.get_content() and number in ack.get_content()
    assert "您好" in message.get_content()  # the staff's words
    text = confirm.get_content()
    assert "为您更换一副新耳机" in text
    assert f"{link}?decision=accept#confirm" in text and f"{link}?decision=reject#confirm" in text
    assert "已为您换货" in result.get_content()
    assert "杂音" in reopen.get_content()
    rows = outbox(db, complaint_id=complaint_id, channel="email")
    assert [r.event for r in rows] == [
        "customer.ack",
        "customer.message",
        "customer.confirm",
        "customer.result",
        "customer.reopen",
    ]
    assert {r.status for r in rows} == {"delivered"}


def test_a_phone_customer_gets_one_sms_per_event(
    db, settings, clock, receiver: Receiver, http_client
):
    receiver.handle = lambda request: json_answer({"code": 0})
    add_gateway(db, clock, receiver.url)
    make_staff(db, clock)
    complaint_id = create(db, clock, channel="phone", customer=PHONE_CUSTOMER)
    number, token = token_of(db, complaint_id)
    run = worker(db, settings, clock, http_client)

    def texts() -> list[dict[str, str]]:
        return [
            r.json()  # type: ignore[misc]
            for r in receiver.received
            if r.path == "/sms" and r.json()["mobile"] == "13800138000"  # type: ignore[index]
        ]

    def after() -> int:
        run.run_until_idle()
        return len(texts())

    assert whole_life(db, clock, complaint_id, after) == ["1", "2", "2", "3", "3", "4", "5"]
    ack, message, confirm, result, reopen = (t["content"] for t in texts())
    assert number in ack and f"/t/{token}" in ack
    assert "您好" in message
    assert "为您更换一副新耳机" in confirm
    assert "已为您换货" in result
    assert "杂音" in reopen
    assert outbox(db, complaint_id=complaint_id, channel="email") == []


def test_without_a_gateway_a_phone_complaint_with_an_email_goes_by_email(db, settings, clock):
    complaint_id = create(
        db, clock, channel="web", customer={**PHONE_CUSTOMER, "email": "li@example.com"}
    )
    (row,) = outbox(db, complaint_id=complaint_id)
    assert (row.channel, row.recipient, row.event) == ("email", "li@example.com", "customer.ack")


def test_an_opted_out_customer_gets_only_the_acknowledgement(db, settings, clock, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    use_smtp(settings, port)
    make_staff(db, clock)
    complaint_id = create(db, clock, channel="email", customer=EMAIL_CUSTOMER)
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        who = accounts.Actor("customer", None, "王小明")
        assert customer_notify.set_opt_out(session, clock, who, complaint.customer, True)
    run = worker(db, settings, clock)

    def after() -> int:
        run.run_until_idle()
        return len(inbox.messages)

    assert whole_life(db, clock, complaint_id, after) == ["1"] * 7
    assert "您的投诉已受理" in str(inbox.messages[0]["Subject"])
    # …and a new complaint of theirs is still acknowledged
    create(db, clock, channel="email", customer=EMAIL_CUSTOMER, content="第二次投诉：充电盒坏了")
    assert after() == 2


def test_an_english_customer_gets_english(db, settings, clock, smtp_server, client, agent):  # noqa: F811
    inbox, port = smtp_server
    use_smtp(settings, port)
    response = client.post(
        "/api/v1/complaints",
        headers=agent,
        json={
            "channel": "email",
            "customer": {"name": "Alex", "email": "alex@example.com"},
            "content": "The left earbud is silent.",
            "locale": "en",
        },
    )
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    assert response.json()["locale"] == "en"
    worker(db, settings, clock).run_until_idle()
    (mail,) = inbox.messages
    assert str(mail["Subject"]) == f"[{number}] We have received your complaint"
    assert "Dear Alex" in mail.get_content()
    bad = client.post(
        "/api/v1/complaints",
        headers=agent,
        json={
            "channel": "api",
            "customer": {"name": "Alex", "email": "alex@example.com"},
            "content": "x",
            "locale": "fr",
        },
    )
    assert bad.status_code == 422 and bad.json()["field"] == "locale"


def test_the_public_form_in_english_records_english(client, db):
    page = client.get("/submit", headers={**HTML, "Accept-Language": "en"})
    form = {
        "csrf_token": csrf_of(page.text),
        "form_key": "k-english",
        "name": "Alex",
        "email": "alex@example.com",
        "content": "The charging case does not charge.",
    }
    sent = client.post("/submit", data=form, headers={**HTML, "Accept-Language": "en"})
    assert sent.status_code in (200, 303), sent.text
    with db.session(write=False) as session:
        complaint = session.scalars(select(Complaint)).one()
        assert complaint.locale == "en"
    (row,) = outbox(db, complaint_id=complaint.id)
    assert row.title.endswith("We have received your complaint")


def test_one_event_is_never_enqueued_twice(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock, channel="email", customer=EMAIL_CUSTOMER)
    note(db, clock, complaint_id, True, "agent_a")
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        for event in session.scalars(
            select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id)
        ):
            customer_notify.on_event(session, clock, complaint, event)  # heard again
    assert [r.event for r in outbox(db, complaint_id=complaint_id)] == [
        "customer.ack",
        "customer.message",
    ]


def test_tracking_page_offers_the_opt_out_in_both_languages(client, db, clock):
    complaint_id = create(db, clock, channel="web", customer=EMAIL_CUSTOMER)
    _number, token = token_of(db, complaint_id)
    zh = client.get(f"/t/{token}", headers=HTML)
    assert 'id="notify"' in zh.text and "退订进度通知" in zh.text
    en = client.get(f"/t/{token}", headers={**HTML, "Accept-Language": "en"})
    assert "Stop progress notifications" in en.text
    done = client.post(
        f"/t/{token}/notifications",
        data={"csrf_token": csrf_of(zh.text), "opt_out": "1"},
        headers=HTML,
    )
    assert done.status_code == 200 and "恢复接收通知" in done.text
    with db.session(write=False) as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.notify_opt_out_at is not None
        audits = session.scalars(
            select(AuditLog.action).where(AuditLog.action.like("customer.notify_%"))
        ).all()
        assert audits == ["customer.notify_opt_out"]
    again = client.post(
        f"/t/{token}/notifications",
        data={"csrf_token": csrf_of(done.text), "opt_out": "0"},
        headers=HTML,
    )
    assert "退订进度通知" in again.text
    with db.session(write=False) as session:
        assert session.scalars(select(Customer)).one().notify_opt_out_at is None
    missing = client.post(
        "/t/no-such-token/notifications",
        data={"csrf_token": csrf_of(done.text), "opt_out": "1"},
        headers=HTML,
    )
    assert missing.status_code == 404


def test_the_confirm_link_lands_on_the_respond_form_and_changes_nothing(client, db, clock):
    complaint_id = create(db, clock, channel="web", customer=EMAIL_CUSTOMER)
    move(db, clock, complaint_id, "investigating")
    move(db, clock, complaint_id, "proposing", findings="虚焊")
    move(db, clock, complaint_id, "confirming", solution="换新")
    _number, token = token_of(db, complaint_id)
    page = client.get(f"/t/{token}?decision=accept", headers=HTML)
    assert page.status_code == 200 and 'value="accept" autofocus' in page.text
    with db.session(write=False) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None and complaint.stage == "confirming"  # a GET changes nothing


@pytest.mark.parametrize("where", ["api", "page"])
def test_staff_see_the_opt_out_on_the_customer(client, db, clock, admin, where):
    complaint_id = create(db, clock, channel="web", customer=EMAIL_CUSTOMER)
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        who = accounts.Actor("customer", None, "王小明")
        customer_notify.set_opt_out(session, clock, who, complaint.customer, True)
        customer_id = complaint.customer_id
    if where == "api":
        out = client.get(f"/api/v1/customers/{customer_id}", headers=admin).json()
        assert out["notify_opt_out_at"] is not None
    else:
        html = client.get(f"/customers/{customer_id}", headers={**admin, **HTML}).text
        assert 'id="notify-opt-out"' in html and "已退订" in html


def test_a_reply_answers_the_customers_own_last_mail(db, settings, clock, smtp_server):  # noqa: F811
    """When email intake recorded the Message-ID of the customer's mail on its event, kesu's
    next email is In-Reply-To that mail (else to kesu's own previous email)."""
    from kesu.complaints import timeline

    inbox, port = smtp_server
    use_smtp(settings, port)
    make_staff(db, clock)
    complaint_id = create(db, clock, channel="email", customer=EMAIL_CUSTOMER)
    clock.advance(minutes=1)
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        timeline.record(
            session,
            clock,
            accounts.Actor("customer", None, "王小明"),
            complaint,
            "customer_message",
            body="请尽快处理",
            public=True,
            data={"message_id": "<CAF123@mail.example.com>"},
        )
    clock.advance(minutes=1)
    note(db, clock, complaint_id, True, "agent_a")
    worker(db, settings, clock).run_until_idle()
    _ack, reply = inbox.messages
    assert str(reply["In-Reply-To"]).strip() == "<CAF123@mail.example.com>"
    assert "<CAF123@mail.example.com>" in str(reply["References"])
