"""The 8-stage closed loop through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select

from kesu.accounts.models import AuditLog
from kesu.complaints.models import Complaint
from tests.complaints.helpers import move, new_complaint

LOOP = [
    ("investigating", {}),
    ("proposing", {"findings": "耳机左声道焊点脱落，属于质量问题"}),
    ("confirming", {"solution": "为客户免费更换新耳机并补偿 20 元优惠券"}),
    ("rectifying", {}),
    ("feedback", {"measures": "已通知产线加强焊点检测"}),
    ("rating", {"result": "新耳机已签收，客户确认正常"}),
    ("archived", {}),
]


def test_full_loop_reaches_archive_with_complete_timeline(client, agent, lead, db):
    complaint = new_complaint(client, agent)
    assert complaint["number"].startswith("TS20261123-")
    assert complaint["stage"] == "registered"
    assert complaint["tracking_url"].startswith("http://testserver/t/")
    for to, outputs in LOOP:
        who = lead if to == "archived" else agent
        response = move(client, who, complaint, to, **outputs)
        assert response.status_code == 200, (to, response.text)
        complaint = response.json()
        assert complaint["stage"] == to
    assert complaint["outputs"]["solution"].startswith("为客户免费更换")
    assert complaint["resolved_at"] is not None and complaint["closed_at"] is not None
    assert complaint["due_at"] is None

    events = client.get(f"/api/v1/complaints/{complaint['id']}/events", headers=agent).json()
    moves = [(e["data"]["from"], e["data"]["to"]) for e in events if e["kind"] == "stage_changed"]
    stages = ["registered"] + [to for to, _ in LOOP]
    assert moves == list(itertools.pairwise(stages))
    assert events[0]["kind"] == "created"
    assert all(e["actor"] for e in events)
    with db.session(write=False) as session:
        audited = session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.entity == "complaint", AuditLog.entity_id == complaint["number"])
            .where(AuditLog.action != "contact.view")  # reads of contact details, not changes
        )
    assert audited == len(events)


def test_skipping_a_stage_is_refused_with_the_allowed_moves(client, agent):
    complaint = new_complaint(client, agent)
    response = move(client, agent, complaint, "proposing")
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    assert "调查核实" in response.json()["detail"]
    assert client.get(f"/api/v1/complaints/{complaint['id']}", headers=agent).json()["stage"] == (
        "registered"
    )


def test_unknown_stage_and_missing_output_name_the_field(client, agent):
    complaint = new_complaint(client, agent)
    response = move(client, agent, complaint, "nowhere")
    assert response.status_code == 422 and response.json()["field"] == "to"
    complaint = move(client, agent, complaint, "investigating").json()
    response = move(client, agent, complaint, "proposing")
    assert response.status_code == 422
    assert response.json()["field"] == "findings"
    response = move(client, agent, complaint, "proposing", findings="   ")
    assert response.status_code == 422
    response = move(client, agent, complaint, "proposing", findings="ok", bogus="x")
    assert response.status_code == 422 and response.json()["field"] == "bogus"


def test_agent_may_not_archive_but_team_lead_may(client, agent, lead):
    complaint = new_complaint(client, agent)
    for to, outputs in LOOP[:-1]:
        complaint = move(client, agent, complaint, to, **outputs).json()
    response = move(client, agent, complaint, "archived")
    assert response.status_code == 403
    assert "组长" in response.json()["detail"]
    assert move(client, lead, complaint, "archived").status_code == 200


def test_auditor_can_read_but_not_act(client, agent, make_user):
    _, auditor = make_user("audit1", "auditor", None)
    complaint = new_complaint(client, agent)
    assert client.get(f"/api/v1/complaints/{complaint['id']}", headers=auditor).status_code == 200
    assert move(client, auditor, complaint, "investigating").status_code == 403
    response = client.post(
        f"/api/v1/complaints/{complaint['id']}/notes", json={"body": "x"}, headers=auditor
    )
    assert response.status_code == 403


def test_stale_version_gets_409_and_changes_nothing(client, agent):
    complaint = new_complaint(client, agent)
    fresh = move(client, agent, complaint, "investigating").json()
    assert fresh["version"] == complaint["version"] + 1
    stale = move(client, agent, complaint, "investigating")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    events = client.get(f"/api/v1/complaints/{complaint['id']}/events", headers=agent).json()
    assert [e["kind"] for e in events].count("stage_changed") == 1


def test_customer_rejection_goes_back_to_proposing(client, agent, db, clock):
    from kesu.complaints import lifecycle
    from kesu.complaints.access import lookup

    complaint = new_complaint(client, agent)
    for to, outputs in LOOP[:3]:
        complaint = move(client, agent, complaint, to, **outputs).json()
    assert complaint["stage"] == "confirming"
    with db.session() as session:
        row = lookup(session, complaint["id"])
        assert row is not None
        lifecycle.customer_respond(session, clock, row, accept=False, comment="只想退款")
    after = client.get(f"/api/v1/complaints/{complaint['id']}", headers=agent).json()
    assert after["stage"] == "proposing"
    events = client.get(f"/api/v1/complaints/{complaint['id']}/events", headers=agent).json()
    rejected = [e for e in events if e["kind"] == "customer_rejected"]
    assert (
        rejected and rejected[0]["actor_kind"] == "customer" and "只想退款" in rejected[0]["body"]
    )


def test_reopen_needs_a_resolved_complaint_and_a_reason(client, agent, lead):
    complaint = new_complaint(client, agent)
    response = client.post(
        f"/api/v1/complaints/{complaint['id']}/reopen",
        json={"version": complaint["version"], "reason": "客户不满意"},
        headers=agent,
    )
    assert response.status_code == 409
    for to, outputs in LOOP:
        complaint = move(client, lead, complaint, to, **outputs).json()
    response = client.post(
        f"/api/v1/complaints/{complaint['id']}/reopen",
        json={"version": complaint["version"], "reason": ""},
        headers=agent,
    )
    assert response.status_code == 422 and response.json()["field"] == "reason"
    response = client.post(
        f"/api/v1/complaints/{complaint['id']}/reopen",
        json={"version": complaint["version"], "reason": "客户反馈仍有杂音"},
        headers=agent,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["stage"] == "investigating" and body["reopen_count"] == 1
    assert body["closed_at"] is None and body["due_at"] is not None


def test_notes_are_internal_and_messages_count_as_first_response(client, agent):
    complaint = new_complaint(client, agent)
    url = f"/api/v1/complaints/{complaint['id']}/notes"
    note = client.post(url, json={"body": "内部备注：先联系仓库"}, headers=agent).json()
    assert note["first_response_at"] is None
    assert note["version"] == complaint["version"]  # a note does not make forms stale
    message = client.post(url, json={"body": "您好，我们已收到", "public": True}, headers=agent)
    assert message.status_code == 201 and message.json()["first_response_at"] is not None
    events = client.get(f"/api/v1/complaints/{complaint['id']}/events", headers=agent).json()
    visibility = {e["kind"]: e["visibility"] for e in events}
    assert visibility["note"] == "internal" and visibility["message"] == "public"


def test_row_in_database_matches_the_api(client, agent, db):
    complaint = new_complaint(client, agent, custom_fields={"store": "天猫旗舰店"})
    with db.session(write=False) as session:
        row = session.get(Complaint, complaint["id"])
        assert row is not None
        assert row.number == complaint["number"]
        assert row.customer.phone == "13800138000"
        assert row.custom_fields == {"store": "天猫旗舰店"}
        assert row.channel == "api" and row.remedy == "replacement"
