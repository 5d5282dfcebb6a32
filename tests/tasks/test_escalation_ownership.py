"""Escalation makes someone own the complaint, and the people escalated to hear about it."""

from __future__ import annotations

from sqlalchemy import select

from kesu.tasks.models import Task
from tests.flows import complaint, create, events, make_staff, notified, worker

NEUTRAL = "上周的事情到现在还没有人联系我，请尽快给个答复。"


def test_a_pool_complaint_that_breaches_goes_to_a_team_lead(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock, content=NEUTRAL)
    assert complaint(db, complaint_id).team is None  # nobody owns it yet
    clock.advance(minutes=70)  # past the first-response target (60 business minutes)
    worker(db, settings, clock).run_until_idle()
    found = complaint(db, complaint_id)
    assert found.team.code == "service" and found.assignee.username == "lead_a"
    assigned = [e for e in events(db, complaint_id) if e.kind == "assigned"]
    assert assigned and assigned[-1].actor_label == "时限监控 SLA"
    assert "sla_breach" in notified(db, "lead_a")


def test_levels_two_and_three_reach_managers_and_executives_bells(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock, content=NEUTRAL)
    clock.advance(hours=4)  # far past 150 % and 200 %
    worker(db, settings, clock).run_until_idle()
    assert "sla_breach" in notified(db, "lead_a")
    assert "sla_level2" in notified(db, "manager_a")
    assert "sla_level3" in notified(db, "exec_a")
    with db.session(write=False) as session:
        levels = set(session.scalars(select(Task.level).where(Task.complaint_id == complaint_id)))
    assert {1, 2, 3} <= levels
    assert complaint(db, complaint_id).assignee is not None


def test_a_level_3_risk_complaint_is_never_left_without_team_and_assignee(db, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock, content="再不处理我就去315和媒体曝光你们！")
    found = complaint(db, complaint_id)
    assert found.team is not None and found.assignee is not None
    assert found.assignee.username == "lead_a"  # the front office's lead owns it
    assert "escalated" in notified(db, "exec_a")


def test_a_team_complaint_without_assignee_goes_to_its_lead_on_breach(db, settings, clock):
    make_staff(db, clock, {"lead_l": ("team_lead", "logistics"), **_staff()})
    complaint_id = create(db, clock, category="物流服务/配送延误/超时未送达")
    assert complaint(db, complaint_id).team.code == "logistics"
    assert complaint(db, complaint_id).assignee is None
    clock.advance(minutes=70)
    worker(db, settings, clock).run_until_idle()
    assert complaint(db, complaint_id).assignee.username == "lead_l"
    assert "sla_breach" in notified(db, "lead_l")


def _staff():
    return {"manager_a": ("manager", None), "exec_a": ("executive", None)}
