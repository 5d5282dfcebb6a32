"""Each rule of docs/sla.md, through the services and the API (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from kesu.complaints import service
from kesu.complaints.models import Complaint
from tests.flows import (
    alerts,
    assign,
    clocks,
    complaint,
    create,
    local,
    make_staff,
    move,
    note,
    outbox,
    worker,
)


def test_a_customer_message_is_not_our_response(db, clock):
    complaint_id = create(db, clock)
    clock.advance(minutes=10)
    with db.session() as session:
        found = session.get(Complaint, complaint_id)
        assert found is not None
        service.add_customer_message(session, clock, found, "请尽快处理！")
    assert clocks(db, complaint_id)["first_response"].status == "running"
    assert complaint(db, complaint_id).first_response_at is None


def test_an_internal_note_is_not_a_response_but_a_public_message_is(db, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock)
    clock.advance(minutes=20)
    note(db, clock, complaint_id, False, "agent_a")
    assert clocks(db, complaint_id)["first_response"].status == "running"
    clock.advance(minutes=5)
    note(db, clock, complaint_id, True, "agent_a")
    first = clocks(db, complaint_id)["first_response"]
    assert first.status == "met" and first.met_at == clock.now() and not first.breached
    # the earliest running deadline is now the stage limit of 受理登记 (also 60 minutes)
    assert complaint(db, complaint_id).due_at == clocks(db, complaint_id)["stage"].due_at


def test_a_late_response_is_met_but_breached(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock)
    clock.advance(minutes=75)
    note(db, clock, complaint_id, True, "agent_a")
    first = clocks(db, complaint_id)["first_response"]
    assert first.status == "met" and first.breached


def test_stage_clock_restarts_on_every_move(db, clock):
    complaint_id = create(db, clock)
    assert clocks(db, complaint_id)["stage"].due_at == clock.now() + timedelta(hours=1)
    clock.advance(minutes=30)
    move(db, clock, complaint_id, "investigating")  # time limit 1440 business minutes
    stage = clocks(db, complaint_id)["stage"]
    assert stage.started_at == clock.now() and stage.target_minutes == 1440
    assert stage.status == "running" and stage.notified == 0


def test_resolution_and_follow_up_and_reopen(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock)
    note(db, clock, complaint_id, True, "agent_a")
    for to, outputs in [
        ("investigating", {}),
        ("proposing", {"findings": "焊点脱落"}),
        ("confirming", {"solution": "换新"}),
        ("rectifying", {}),
        ("feedback", {"measures": "加强检测"}),
        ("rating", {"result": "已换新"}),
    ]:
        clock.advance(minutes=30)
        move(db, clock, complaint_id, to, **outputs)
    found = clocks(db, complaint_id)
    assert found["resolution"].status == "met" and not found["resolution"].breached
    follow_up = found["follow_up"]
    # resolved Monday 13:00 → within 3 working days: Thursday 26 November at 18:00
    assert follow_up.status == "running" and follow_up.due_at == local(2026, 11, 26, 18)
    assert complaint(db, complaint_id).due_at == follow_up.due_at

    with db.session() as session:
        from kesu.complaints.lifecycle import reopen
        from tests.flows import actor

        found_complaint = session.get(Complaint, complaint_id)
        assert found_complaint is not None
        reopen(
            session,
            clock,
            actor(db, "lead_a"),
            found_complaint,
            "客户不满意",
            found_complaint.version,
        )
    found = clocks(db, complaint_id)
    assert found["follow_up"].status == "cancelled"
    assert found["resolution"].status == "met"  # the first cycle's result stays on record
    assert found["resolution#1"].status == "running"
    assert found["resolution#1"].started_at == clock.now()
    assert found["solution#1"].status == "running"
    assert found["first_response"].status == "met"  # not restarted by a reopen


def test_closing_stops_every_clock(db, clock):
    complaint_id = create(db, clock)
    duplicate_id = create(db, clock, content="同一个问题，又投诉一次")
    with db.session() as session:
        keep = session.get(Complaint, complaint_id)
        duplicate = session.get(Complaint, duplicate_id)
        assert keep is not None and duplicate is not None
        from kesu.accounts.service import SYSTEM

        service.merge(session, clock, SYSTEM, duplicate, keep, duplicate.version, "重复")
    statuses = {name: c.status for name, c in clocks(db, duplicate_id).items()}
    assert set(statuses.values()) == {"cancelled"}
    assert complaint(db, duplicate_id).due_at is None


def test_editing_a_policy_retargets_running_clocks_but_not_met_ones(
    client, admin, db, settings, clock
):
    make_staff(db, clock)
    early = create(db, clock)
    note(db, clock, early, True, "agent_a")  # first response met after 0 minutes
    later = create(db, clock)
    policy = next(
        p
        for p in client.get("/api/v1/sla/policies", headers=admin).json()
        if p["code"] == "standard"
    )
    targets = dict(policy["targets"], first_response={"minutes": 30})
    response = client.patch(
        f"/api/v1/sla/policies/{policy['id']}",
        json={"version": policy["version"], "targets": targets},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["reconciled"] is False
    assert clocks(db, later)["first_response"].target_minutes == 60  # until the worker passes
    worker(db, settings, clock).run_once()
    assert clocks(db, later)["first_response"].target_minutes == 30
    assert clocks(db, later)["first_response"].due_at == clock.now() + timedelta(minutes=30)
    assert clocks(db, early)["first_response"].target_minutes == 60  # met: never re-judged
    again = client.get(f"/api/v1/sla/policies/{policy['id']}", headers=admin).json()
    assert again["reconciled"] is True and again["version"] == policy["version"] + 1
    stale = client.patch(
        f"/api/v1/sla/policies/{policy['id']}",
        json={"version": policy["version"], "warn_percent": 50},
        headers=admin,
    )
    assert stale.status_code == 409


def test_disabling_a_policy_moves_its_complaints_to_the_next_one(
    client, admin, db, settings, clock
):
    created = client.post(
        "/api/v1/sla/policies",
        headers=admin,
        json={
            "code": "vip",
            "name": "VIP",
            "position": 50,
            "conditions": {"field": "tier", "op": "eq", "value": "vip"},
            "targets": {"first_response": {"minutes": 15}},
        },
    )
    assert created.status_code == 201, created.text
    vip = create(db, clock, customer={"name": "李先生", "phone": "13700000000", "tier": "vip"})
    assert clocks(db, vip)["first_response"].target_minutes == 15
    assert "resolution" not in clocks(db, vip)
    clock.advance(minutes=5)
    response = client.patch(
        f"/api/v1/sla/policies/{created.json()['id']}",
        json={"version": 1, "is_active": False},
        headers=admin,
    )
    assert response.status_code == 200
    worker(db, settings, clock).run_once()
    found = clocks(db, vip)
    assert found["first_response"].target_minutes == 60  # the standard policy now
    assert found["first_response"].started_at == clock.now() - timedelta(minutes=5)
    assert found["resolution"].status == "running"


def test_policy_input_errors_name_the_field(client, admin):
    bad = [
        ({"targets": {"lunch": {"minutes": 5}}}, "targets.lunch"),
        ({"targets": {"first_response": {"minutes": 0}}}, "targets.first_response.minutes"),
        ({"targets": {"first_response": {}}}, "targets.first_response"),
        ({"targets": {}, "conditions": {"field": "tier", "op": "gt", "value": 1}}, "conditions.op"),
        ({"targets": {}, "calendar_code": "nope"}, "calendar_code"),
        ({"targets": {}, "level_percents": [90, 200]}, "level_percents.0"),
    ]
    for extra, field in bad:
        body = {"code": "x", "name": "x", **extra}
        response = client.post("/api/v1/sla/policies", json=body, headers=admin)
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["field"] == field


def test_warnings_outside_business_hours_wait_unless_urgent(client, admin, db, settings, clock):
    """A 7×24 policy (phone complaints at night): its clock counts at 22:00, but a non-urgent
    warning's email waits for 09:00; an urgent complaint's goes at once. The in-app notice is
    there at once for both."""
    make_staff(db, clock)
    response = client.post(
        "/api/v1/sla/policies",
        headers=admin,
        json={
            "code": "hotline",
            "name": "热线 7×24",
            "position": 5,
            "calendar_code": "always_open",
            "conditions": {"field": "channel", "op": "eq", "value": "phone"},
            "targets": {"first_response": {"minutes": 60}},
        },
    )
    assert response.status_code == 201, response.text
    clock.set(local(2026, 11, 23, 22))  # Monday night
    normal = create(db, clock, channel="phone")
    urgent = create(db, clock, channel="phone", priority=1, content="热水器不出热水")
    assign(db, clock, normal, "agent_a")
    assign(db, clock, urgent, "agent_a")
    clock.set(local(2026, 11, 23, 22, 48))  # 80 % of 60 minutes
    worker(db, settings, clock).run_once()
    assert alerts(db, normal) == [("warning:first_response", 0)]
    assert alerts(db, urgent) == [("warning:first_response", 0)]
    mails = {m.complaint_id: m for m in outbox(db, channel="email", event="sla_warning")}
    assert mails[normal].available_at == local(2026, 11, 24, 9)
    assert mails[normal].status == "pending" and mails[normal].attempts == 0
    # the urgent one was tried at once (and failed for good: no SMTP server is configured here)
    assert mails[urgent].attempts == 1 and mails[urgent].status == "failed"
    clock.set(local(2026, 11, 24, 9))
    worker(db, settings, clock).run_once()
    assert outbox(db, id=mails[normal].id)[0].attempts == 1
