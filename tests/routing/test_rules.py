"""Routing rules: the seeded examples of the source documents, the admin API and the dry run."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.accounts.models import AuditLog
from kesu.incidents.models import Incident, IncidentComplaint
from kesu.tasks.models import Task
from tests.flows import alerts, complaint, create, events, local, make_staff, notified

TEAMS = {
    "eng_1": ("agent", "engineering"),
    "eng_2": ("agent", "engineering"),
    "fin_1": ("agent", "finance"),
    "fin_2": ("agent", "finance"),
}


def fired(db, complaint_id: int) -> list[str]:
    return [e.data["rule"] for e in events(db, complaint_id) if e.kind == "rule_fired"]


def test_technical_problems_go_to_the_engineers_least_loaded_first(db, clock):
    make_staff(db, clock, TEAMS)
    first = create(db, clock, category="产品质量/功能故障/无法开机")
    second = create(db, clock, category="售后支持/维修/维修后仍故障")
    third = create(db, clock, content="手机一直死机，什么都做不了")  # no category: keywords
    owners = [complaint(db, c).assignee.username for c in (first, second, third)]
    assert owners == ["eng_1", "eng_2", "eng_1"]  # the one with fewer open complaints
    assert {complaint(db, c).team.code for c in (first, second, third)} == {"engineering"}
    assert fired(db, first) == ["技术问题 → 技术支持部"]
    event = next(e for e in events(db, first) if e.kind == "rule_fired")
    assert event.actor_kind == "system" and "eng_1" in event.body


def test_billing_goes_to_finance_round_robin(db, clock):
    make_staff(db, clock, TEAMS)
    ids = [create(db, clock, category="账务/扣费异常/重复扣费") for _ in range(3)]
    assert [complaint(db, c).assignee.username for c in ids] == ["fin_1", "fin_2", "fin_1"]
    assert notified(db, "fin_1") == ["assigned", "assigned"]  # the assignee is told


def test_other_categories_go_to_the_category_team_and_stay_in_the_pool_without_agents(db, clock):
    complaint_id = create(db, clock, category="物流服务/配送延误/超时未送达")
    found = complaint(db, complaint_id)
    assert found.team.code == "logistics" and found.assignee is None
    assert fired(db, complaint_id) == ["按分类归属团队分配"]


def test_vip_first(db, clock):
    vip = create(db, clock, customer={"name": "赵女士", "phone": "13600000000", "tier": "vip"})
    found = complaint(db, vip)
    assert found.priority == 2 and "VIP" in found.tags
    assert fired(db, vip) == ["VIP 客户优先"]


def test_risk_words_escalate_to_executives_at_once(db, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock, content="再不处理我就去315和媒体曝光你们！")
    found = complaint(db, complaint_id)
    assert "risk" in found.tags and found.severity == "serious" and found.priority == 1
    assert alerts(db, complaint_id)[-1][1] == 3  # level 3
    assert notified(db, "exec_a") == ["escalated"]
    with db.session(write=False) as session:
        task = session.scalar(select(Task).where(Task.complaint_id == complaint_id))
        assert task is not None and task.kind == "escalation" and task.level == 3
    # once per complaint: a later update matching the rule again does not escalate again
    from kesu.complaints import service
    from kesu.complaints.models import Complaint
    from kesu.complaints.schemas import ComplaintUpdate
    from tests.flows import actor

    with db.session() as session:
        row = session.get(Complaint, complaint_id)
        assert row is not None
        service.update_complaint(
            session,
            clock,
            actor(db, "agent_a"),
            row,
            ComplaintUpdate(version=row.version, title="315"),
        )
    assert notified(db, "exec_a") == ["escalated"]


def test_a_risk_flag_from_triage_counts_too(db, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock, tags=["risk:2"])
    assert [level for _, level in alerts(db, complaint_id)] == [3]


def test_by_region_to_the_local_owner(client, admin, db, clock):
    created = client.post(
        "/api/v1/teams", json={"code": "south", "name": "华南服务组"}, headers=admin
    )
    assert created.status_code == 201, created.text
    make_staff(db, clock, {"south_1": ("agent", "south")})
    rule = next(
        r for r in client.get("/api/v1/routing/rules", headers=admin).json() if "华南" in r["name"]
    )
    response = client.patch(
        f"/api/v1/routing/rules/{rule['id']}",
        json={"version": rule["version"], "is_active": True},
        headers=admin,
    )
    assert response.status_code == 200
    complaint_id = create(
        db, clock, customer={"name": "陈先生", "phone": "13500000000", "region": "广州"}
    )
    assert complaint(db, complaint_id).assignee.username == "south_1"


def test_the_same_issue_more_than_five_times_in_24_hours_opens_an_incident(db, clock):
    make_staff(db, clock)
    category = "服务态度/客服态度/推诿敷衍"
    ids = []
    for _ in range(5):
        ids.append(create(db, clock, category=category))
        clock.advance(hours=1)
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
    ids.append(create(db, clock, category=category))  # the sixth within 24 hours
    ids.append(create(db, clock, category=category))  # joins the open incident
    with db.session(write=False) as session:
        (incident,) = session.scalars(select(Incident))
        linked = set(session.scalars(select(IncidentComplaint.complaint_id)))
    assert incident.status == "open" and incident.title.endswith(category)
    assert linked == set(ids)
    assert notified(db, "exec_a") == ["incident_opened"]
    assert notified(db, "manager_a") == ["incident_opened"]
    assert [e.kind for e in events(db, ids[-1]) if e.kind.startswith("incident")] == [
        "incident_linked"
    ]


def test_logistics_threshold_is_lower_during_the_national_day_holiday(db, clock):
    clock.set(local(2026, 10, 2, 10))
    category = "物流服务/配送延误/物流停滞"
    ids = [create(db, clock, category=category) for _ in range(4)]
    with db.session(write=False) as session:
        incident = session.scalar(select(Incident))
    assert incident is not None  # 4 > 3 during the holiday
    assert "国庆期间物流类投诉批量预警（阈值 3）" in fired(db, ids[-1])


def test_rules_do_not_trigger_themselves(client, admin, db, clock):
    """A rule listening to "updated" that updates the complaint fires once, not forever."""
    response = client.post(
        "/api/v1/routing/rules",
        headers=admin,
        json={
            "name": "提到退款 → 较重",
            "events": ["updated"],
            "conditions": {"field": "tags", "op": "contains", "value": "退款"},
            "actions": [
                {"type": "set_severity", "severity": "moderate"},
                {"type": "add_tag", "tag": "已处理"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    make_staff(db, clock)
    complaint_id = create(db, clock)
    from kesu.complaints import service
    from kesu.complaints.models import Complaint
    from kesu.complaints.schemas import ComplaintUpdate
    from tests.flows import actor

    with db.session() as session:
        row = session.get(Complaint, complaint_id)
        assert row is not None
        data = ComplaintUpdate(version=row.version, tags=["退款"])
        service.update_complaint(session, clock, actor(db, "agent_a"), row, data)
    found = complaint(db, complaint_id)
    assert found.severity == "moderate" and set(found.tags) == {"退款", "已处理"}
    assert fired(db, complaint_id) == ["提到退款 → 较重"]
    kinds = [e.kind for e in events(db, complaint_id)]
    assert kinds.count("updated") == 3  # the agent's edit, then the rule's two


def test_rule_api_validates_and_audits(client, admin, agent, db):
    bad = [
        ({"name": "x", "events": ["deleted"]}, "events"),
        (
            {"name": "x", "conditions": {"field": "colour", "op": "eq", "value": 1}},
            "conditions.field",
        ),
        ({"name": "x", "actions": [{"type": "assign"}]}, "actions[0]"),
        ({"name": "x", "actions": [{"type": "explode"}]}, "actions[0].type"),
        (
            {"name": "x", "actions": [{"type": "set_priority", "priority": 9}]},
            "actions[0].priority",
        ),
        ({"name": "x", "actions": [{"type": "assign", "team": "nope"}]}, "actions[0].team"),
        ({"name": "x", "actions": [{"type": "notify", "to": ["everyone"]}]}, "actions[0].to"),
    ]
    for body, field in bad:
        response = client.post("/api/v1/routing/rules", json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == field, (body, response.json())
    assert client.get("/api/v1/routing/rules", headers=agent).status_code == 403

    created = client.post(
        "/api/v1/routing/rules",
        headers=admin,
        json={
            "name": "夜间投诉 → 值班",
            "events": ["created"],
            "conditions": {"field": "time", "op": "between", "value": ["22:00", "08:00"]},
            "actions": [{"type": "notify", "to": ["team_lead", "user:admin1"]}],
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    rules = client.get("/api/v1/routing/rules", headers=admin).json()
    assert rules[-1]["id"] == rule["id"]
    ids = [rule["id"]] + [r["id"] for r in rules if r["id"] != rule["id"]]
    reordered = client.post("/api/v1/routing/rules/reorder", json={"ids": ids}, headers=admin)
    assert reordered.status_code == 200
    assert reordered.json()[0]["id"] == rule["id"]
    stale = client.patch(
        f"/api/v1/routing/rules/{rule['id']}", json={"version": 1, "stop": True}, headers=admin
    )
    assert stale.status_code == 409  # the reorder bumped the version
    assert client.delete(f"/api/v1/routing/rules/{rule['id']}", headers=admin).status_code == 204
    with db.session(write=False) as session:
        actions = set(
            session.scalars(select(AuditLog.action).where(AuditLog.entity == "routing_rule"))
        )
    assert actions == {"routing_rule.create", "routing_rule.reorder", "routing_rule.delete"}


def test_dry_run_says_which_rules_would_fire_without_changing_anything(client, admin, db, clock):
    complaint_id = create(
        db,
        clock,
        category="账务/扣费异常/重复扣费",
        customer={"name": "钱先生", "phone": "13300000000", "tier": "vip"},
    )
    before = complaint(db, complaint_id)
    timeline_before = len(events(db, complaint_id))
    response = client.post(
        "/api/v1/routing/dry-run",
        json={"complaint": before.number, "event": "created"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    names = {r["name"]: r for r in report["rules"]}
    assert names["账务问题 → 财务部"]["matches"] is True
    assert names["VIP 客户优先"]["matches"] is True
    assert names["按分类归属团队分配"]["matches"] is False  # the billing rule stops the rest
    assert names["按分类归属团队分配"]["stopped_by"] == "账务问题 → 财务部"
    assert names["技术问题 → 技术支持部"]["matches"] is False
    assert names["账务问题 → 财务部"]["actions"] == ["分配给团队 finance（轮询）"]
    after = complaint(db, complaint_id)
    assert after.version == before.version
    assert len(events(db, complaint_id)) == timeline_before
    draft = client.post(
        "/api/v1/routing/dry-run",
        headers=admin,
        json={
            "complaint": str(complaint_id),
            "event": "updated",
            "rule": {
                "name": "草稿",
                "events": ["updated"],
                "conditions": {"field": "tier", "op": "eq", "value": "vip"},
                "actions": [{"type": "escalate", "level": 1}],
            },
        },
    )
    assert draft.status_code == 200, draft.text
    assert draft.json()["would_fire"] == [0]
    wrong = client.post(
        "/api/v1/routing/dry-run", json={"complaint": "1", "event": "boom"}, headers=admin
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "event"
