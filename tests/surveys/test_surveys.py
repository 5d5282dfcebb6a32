"""Satisfaction surveys end to end, on both databases: scheduled when a complaint enters
满意度评价, sent by the worker when the FrozenClock reaches the delay (to a real SMTP server,
or the SMS gateway's receiver), answered once (409 after), dead after expiry (410), a low
score reopens and tells the lead, a good one credits the agent and archives, unanswered ones
archive ``unrated``, and each resolution gets its own survey."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.complaints import lifecycle
from kesu.complaints.models import Complaint
from kesu.config import get_settings
from kesu.surveys import service
from kesu.surveys.models import Survey
from tests.flows import actor, complaint, events, move, notified, outbox, user, worker
from tests.notify.conftest import Receiver, json_answer
from tests.notify.test_customer_notify import PHONE_CUSTOMER, add_gateway, use_smtp
from tests.surveys.conftest import EMAIL_CUSTOMER, GOOD, LOW, resolved, surveys

API = "/api/v1/public/surveys"


@pytest.fixture
def at_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``KESU_SURVEY_DELAY_MINUTES=0`` (read once per process, like every setting)."""
    monkeypatch.setenv("KESU_SURVEY_DELAY_MINUTES", "0")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("KESU_SURVEY_DELAY_MINUTES")
    get_settings.cache_clear()


def stage(db: Any, complaint_id: int) -> str:
    return complaint(db, complaint_id).stage


def kinds(db: Any, complaint_id: int) -> list[str]:
    return [e.kind for e in events(db, complaint_id)]


def test_the_survey_mail_is_sent_24_hours_after_resolution_in_the_customers_language(
    db,
    settings,
    clock,
    smtp_server,
):
    inbox, port = smtp_server
    use_smtp(settings, port)
    complaint_id = resolved(db, clock, channel="email", customer=EMAIL_CUSTOMER, locale="en")
    [survey] = surveys(db, complaint_id)
    assert survey.status == "scheduled" and survey.round == 1
    run = worker(db, settings, clock)

    def survey_mails() -> list[Any]:
        run.run_until_idle()
        return [m for m in inbox.messages if "/s/" in m.get_body().get_content()]

    assert survey_mails() == []
    clock.advance(hours=23, minutes=59)
    assert survey_mails() == []
    clock.advance(minutes=2)
    [mail] = survey_mails()
    number = complaint(db, complaint_id).number
    assert f"[{number}]" in str(mail["Subject"]) and "How did we do" in str(mail["Subject"])
    text = mail.get_body().get_content()
    assert f"/s/{survey.token}" in text  # the worker: KESU_BASE_URL or the remembered address
    assert "valid until" in text
    [sent] = surveys(db, complaint_id)
    assert sent.status == "sent" and sent.channel == "email"
    assert sent.expires_at == sent.sent_at + timedelta(days=7)
    assert "survey_sent" in kinds(db, complaint_id)
    clock.advance(days=1)
    assert len(survey_mails()) == 1  # never twice


def test_the_admins_channel_delay_and_sms(db, settings, clock, receiver: Receiver, http_client):
    receiver.handle = lambda request: json_answer({"code": 0})
    add_gateway(db, clock, receiver.url)
    with db.session() as session:
        service.save_setting(session, clock, accounts.SYSTEM, "phone", 90, 3, None)
    complaint_id = resolved(db, clock, channel="phone", customer=PHONE_CUSTOMER)
    run = worker(db, settings, clock, http_client)

    def texts() -> list[str]:
        run.run_until_idle()
        return [
            r.json()["content"]  # type: ignore[index]
            for r in receiver.received
            if "/s/" in r.json()["content"]  # type: ignore[index]
        ]

    clock.advance(minutes=89)
    assert texts() == []
    clock.advance(minutes=2)
    [sms] = texts()
    [survey] = surveys(db, complaint_id)
    assert f"/s/{survey.token}" in sms and "请为我们的服务打分" in sms
    assert survey.expires_at == survey.sent_at + timedelta(days=3)


def test_zero_delay_sends_at_once(db, settings, clock, at_once):
    complaint_id = resolved(db, clock, channel="email", customer=EMAIL_CUSTOMER)
    worker(db, settings, clock).run_once()
    [row] = outbox(db, complaint_id=complaint_id, event="customer.survey")
    assert row.recipient == "xiaoming@example.com" and "/s/" in row.body


def test_a_good_answer_credits_the_agent_and_archives(db, settings, clock, client, at_once):
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    seen = client.get(f"{API}/{survey.token}")
    assert seen.status_code == 200
    body = seen.json()
    assert body["number"] == complaint(db, complaint_id).number and body["status"] == "open"
    assert [q["code"] for q in body["questions"]] == [
        "timeliness",
        "solution",
        "attitude",
        "nps",
        "comment",
    ]
    assert body["questions"][0]["label"] == "处理时效"
    answered = client.post(f"{API}/{survey.token}", json=GOOD)
    assert answered.status_code == 201, answered.text
    assert answered.json()["outcome"] == "good"
    assert stage(db, complaint_id) == "archived"
    assert kinds(db, complaint_id)[-2:] == ["survey_answered", "stage_changed"]
    agent = user(db, "agent_a")
    with db.session(write=False) as session:
        [points] = service.points_by_agent(session, agent_id=agent.id)
    assert (points.answered, points.good, points.points) == (1, 1, 2 + 1 + 2 + 1)
    assert points.average == pytest.approx(14 / 3, abs=0.01)
    again = client.post(f"{API}/{survey.token}", json=GOOD)
    assert again.status_code == 409
    assert again.json()["code"] == "survey_answered"
    assert "已经提交过" in again.json()["detail"]
    english = client.post(f"{API}/{survey.token}", json=GOOD, headers={"Accept-Language": "en"})
    assert english.status_code == 409 and "already" in english.json()["detail"]
    assert client.get(f"{API}/{survey.token}").json()["status"] == "answered"


def test_the_admins_archive_delay(db, settings, clock, client, at_once):
    with db.session() as session:
        service.save_setting(session, clock, accounts.SYSTEM, "*", None, None, 60)
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    assert client.post(f"{API}/{survey.token}", json=GOOD).status_code == 201
    run = worker(db, settings, clock)
    run.run_until_idle()
    assert stage(db, complaint_id) == "rating"
    clock.advance(minutes=61)
    run.run_until_idle()
    assert stage(db, complaint_id) == "archived"


def test_a_low_score_reopens_and_tells_the_lead(db, settings, clock, client, at_once):
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    answered = client.post(f"{API}/{survey.token}", json=LOW)
    assert answered.status_code == 201 and answered.json()["outcome"] == "low"
    found = complaint(db, complaint_id)
    assert found.stage == "investigating" and found.reopen_count == 1
    assert kinds(db, complaint_id)[-2:] == ["survey_answered", "reopened"]
    answer_event = events(db, complaint_id)[-2]
    assert answer_event.data["scores"] == {"timeliness": 2, "solution": 4, "attitude": 5}
    assert answer_event.visibility == "public"
    assert "survey_low" in notified(db, "lead_a")
    assert "survey_low" not in notified(db, "agent_a")
    [mail] = outbox(db, event="survey_low", channel="email")
    assert mail.recipient == "lead_a@example.com" and "等了太久" in mail.body
    with db.session(write=False) as session:
        assert service.points_by_agent(session, agent_id=user(db, "agent_a").id)[0].points == 0
    # staff see it, timeline sentence in both languages
    staff = client.get(
        f"/api/v1/complaints/{complaint_id}/events",
        headers={"Authorization": f"Bearer {_token(db, clock, 'lead_a')}"},
    ).json()
    texts = [e["text"] for e in (staff["items"] if isinstance(staff, dict) else staff)]
    assert any("处理时效 2 分" in t and "二次处理" in t for t in texts), texts


def _token(db: Any, clock: Any, username: str) -> str:
    with db.session() as session:
        found = session.get(type(user(db, username)), user(db, username).id)
        return accounts.create_token(session, clock, accounts.SYSTEM, found)


def test_a_reopened_and_re_resolved_complaint_gets_a_second_survey(
    db, settings, clock, client, at_once
):
    complaint_id = resolved(db, clock)
    [first] = surveys(db, complaint_id)
    assert client.post(f"{API}/{first.token}", json=LOW).status_code == 201
    move(db, clock, complaint_id, "proposing", findings="复查：新耳机同批次问题")
    move(db, clock, complaint_id, "confirming", solution="退款")
    move(db, clock, complaint_id, "rectifying")
    move(db, clock, complaint_id, "feedback", measures="更换供应商")
    move(db, clock, complaint_id, "rating", result="已退款")
    one, two = surveys(db, complaint_id)
    assert (one.round, one.status, one.timeliness) == (1, "answered", 2)
    assert (two.round, two.status) == (2, "scheduled") and two.token != one.token
    worker(db, settings, clock).run_until_idle()
    assert client.post(f"{API}/{two.token}", json=GOOD).status_code == 201
    assert stage(db, complaint_id) == "archived"
    headers = {"Authorization": f"Bearer {_token(db, clock, 'lead_a')}"}
    listed = client.get(f"/api/v1/complaints/{complaint_id}/surveys", headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert [s["id"] for s in body] == [one.id, two.id]
    for item in body:
        assert set(item) == {
            "id",
            "status",
            "sent_at",
            "answered_at",
            "scores",
            "nps",
            "comment",
            "url",
        }
        assert set(item["scores"]) == {"timeliness", "solution", "attitude"}
    assert body[0]["scores"] == {"timeliness": 2, "solution": 4, "attitude": 5}
    assert body[0]["nps"] == 3 and body[0]["comment"] == "等了太久"
    assert body[1]["status"] == "answered" and body[1]["sent_at"] is not None
    assert body[1]["url"] == f"http://testserver/s/{two.token}"


def test_no_answer_within_validity_archives_unrated_and_the_link_is_gone(
    db, settings, clock, client, at_once
):
    complaint_id = resolved(db, clock)
    run = worker(db, settings, clock)
    run.run_until_idle()
    [survey] = surveys(db, complaint_id)
    clock.advance(days=6, hours=23)
    run.run_until_idle()
    assert stage(db, complaint_id) == "rating"
    clock.advance(hours=2)
    run.run_until_idle()
    assert stage(db, complaint_id) == "archived"
    [expired] = surveys(db, complaint_id)
    assert (expired.status, expired.outcome) == ("expired", "unrated")
    assert kinds(db, complaint_id)[-2:] == ["survey_unrated", "stage_changed"]
    late = client.post(f"{API}/{survey.token}", json=GOOD)
    assert late.status_code == 410 and late.json()["code"] == "survey_expired"
    assert "过期" in late.json()["detail"]
    assert client.get(f"{API}/{survey.token}").json()["status"] == "expired"


def test_an_expired_link_is_refused_even_before_the_worker_ran(db, clock, client, at_once):
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    clock.advance(days=8)
    late = client.post(f"{API}/{survey.token}", json=GOOD, headers={"Accept-Language": "en"})
    assert late.status_code == 410 and "expired" in late.json()["detail"]
    assert stage(db, complaint_id) == "rating"


def test_moving_the_complaint_by_hand_cancels_the_survey(db, settings, clock, client):
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    with db.session() as session:
        found = session.get(Complaint, complaint_id)
        assert found is not None
        lifecycle.reopen(session, clock, actor(db, "lead_a"), found, "客户来电", found.version)
    [cancelled] = surveys(db, complaint_id)
    assert cancelled.status == "cancelled" and cancelled.next_at is None
    clock.advance(days=9)
    worker(db, settings, clock).run_until_idle()
    assert stage(db, complaint_id) == "investigating"
    assert outbox(db, complaint_id=complaint_id, event="customer.survey") == []
    gone = client.post(f"{API}/{survey.token}", json=GOOD)
    assert gone.status_code == 410 and gone.json()["code"] == "survey_closed"


def test_archived_by_hand_before_a_delayed_archive_is_left_alone(
    db, settings, clock, client, at_once
):
    with db.session() as session:
        service.save_setting(session, clock, accounts.SYSTEM, "*", None, None, 60)
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    assert client.post(f"{API}/{survey.token}", json=GOOD).status_code == 201
    move(db, clock, complaint_id, "archived")
    clock.advance(hours=2)
    worker(db, settings, clock).run_until_idle()  # nothing to do, nothing raised
    assert kinds(db, complaint_id).count("stage_changed") == 7


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "timeliness": 0},
        {**GOOD, "solution": 6},
        {**GOOD, "nps": 11},
        {**GOOD, "attitude": "5"},
        {**GOOD, "extra": 1},
        {k: v for k, v in GOOD.items() if k != "nps"},
        {**GOOD, "comment": "长" * 2001},
    ],
)
def test_bad_answers_are_422_and_change_nothing(db, clock, client, at_once, body):
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    refused = client.post(f"{API}/{survey.token}", json=body)
    assert refused.status_code == 422, refused.text
    assert surveys(db, complaint_id)[0].status == "scheduled"


def test_unknown_token_is_404(client):
    assert client.get(f"{API}/nope").status_code == 404
    assert client.post(f"{API}/nope", json=GOOD).status_code == 404


def test_staff_resend(db, settings, clock, client, at_once):
    complaint_id = resolved(db, clock, customer=EMAIL_CUSTOMER)
    worker(db, settings, clock).run_until_idle()
    [survey] = surveys(db, complaint_id)
    headers = {"Authorization": f"Bearer {_token(db, clock, 'agent_a')}"}
    url = f"/api/v1/complaints/{complaint_id}/surveys/{survey.id}/resend"
    resent = client.post(url, headers=headers)
    assert resent.status_code == 200 and resent.json() == {"queued": True}
    assert len(outbox(db, complaint_id=complaint_id, event="customer.survey")) == 2
    assert client.post(f"{API}/{survey.token}", json=GOOD).status_code == 201
    assert client.post(url, headers=headers).status_code == 409
    with db.session(write=False) as session:
        assert session.scalar(select(Survey.sends).where(Survey.id == survey.id)) == 2


def test_the_survey_template_is_editable_like_the_others(client, db, clock, admin):
    listed = client.get("/api/v1/notify/customer-templates", headers=admin)
    assert listed.status_code == 200
    assert any(t["event"] == "survey" for t in listed.json())
    bad = client.put(
        "/api/v1/notify/customer-templates/survey/zh_CN",
        headers=admin,
        json={"title": "评价 {number}", "body": "{survey_link} {bogus}", "sms": "{survey_link}"},
    )
    assert bad.status_code == 422
    good = client.put(
        "/api/v1/notify/customer-templates/survey/zh_CN",
        headers=admin,
        json={
            "title": "评价 {number}",
            "body": "请打分 {survey_link}",
            "sms": "打分 {survey_link}",
        },
    )
    assert good.status_code == 200, good.text
    assert re.search(r"survey_link", good.json()["body"])


def test_auditors_see_the_comment_masked(db, clock, client, make_user, at_once):
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    words = {**GOOD, "comment": "有事打我电话 13812345678"}
    assert client.post(f"{API}/{survey.token}", json=words).status_code == 201
    _, auditor = make_user("audit1", "auditor", None)
    [seen] = client.get(f"/api/v1/complaints/{complaint_id}/surveys", headers=auditor).json()
    assert "13812345678" not in seen["comment"] and "有事打我电话" in seen["comment"]
    lead = {"Authorization": f"Bearer {_token(db, clock, 'lead_a')}"}
    [plain] = client.get(f"/api/v1/complaints/{complaint_id}/surveys", headers=lead).json()
    assert "13812345678" in plain["comment"]


def test_the_points_report(db, clock, client, at_once):
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    assert client.post(f"{API}/{survey.token}", json=GOOD).status_code == 201
    lead = {"Authorization": f"Bearer {_token(db, clock, 'lead_a')}"}
    [row] = client.get("/api/v1/surveys/points", headers=lead).json()
    assert row == {
        "agent_id": user(db, "agent_a").id,
        "username": "agent_a",
        "answered": 1,
        "good": 1,
        "points": 6,
        "average": pytest.approx(4.67, abs=0.01),
    }
    clock.advance(days=31)
    assert client.get("/api/v1/surveys/points", headers=lead).json() == []
    assert client.get("/api/v1/surveys/points?days=0", headers=lead).status_code == 422
    agent = {"Authorization": f"Bearer {_token(db, clock, 'agent_a')}"}
    assert client.get("/api/v1/surveys/points", headers=agent).status_code == 403
