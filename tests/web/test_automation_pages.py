"""Pages for routing rules (with the dry run), failed deliveries, the bell and the SLA panel."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from kesu.notify.models import OutboxMessage
from kesu.routing.models import RoutingRule
from tests.flows import make_staff, worker
from tests.web.conftest import post_form


@pytest.mark.parametrize("path", ["/admin/rules", "/admin/outbox"])
def test_only_admins(signed_in, path):
    assert signed_in("lead1", role="team_lead").get(path).status_code == 403


def test_rules_page_lists_the_seeded_rules_and_adds_one(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    page = client.get("/admin/rules").text
    assert "账务问题 → 财务部" in page and "分配给团队 finance（轮询）" in page
    bad = post_form(
        client,
        "/admin/rules",
        "/admin/rules",
        {"name": "坏规则", "events": "created", "conditions": "{oops", "actions": "[]"},
    )
    assert bad.status_code == 422 and "不是有效的 JSON" in bad.text
    assert "{oops" in bad.text  # what was typed is kept
    made = post_form(
        client,
        "/admin/rules",
        "/admin/rules",
        {
            "name": "夜间 VIP → 组长",
            "events": "created",
            "conditions": json.dumps({"field": "tier", "op": "eq", "value": "vip"}),
            "actions": json.dumps([{"type": "notify", "to": ["team_lead"]}]),
            "is_active": "on",
        },
    )
    assert made.status_code == 200 and "已添加规则「夜间 VIP → 组长」" in made.text
    with db.session(write=False) as session:
        rule = session.scalar(select(RoutingRule).where(RoutingRule.name == "夜间 VIP → 组长"))
    assert rule is not None and rule.is_active and rule.events == ["created"]

    toggled = post_form(client, "/admin/rules", f"/admin/rules/{rule.id}/toggle", {})
    assert "已停用" in toggled.text
    moved = post_form(client, "/admin/rules", f"/admin/rules/{rule.id}/move", {"direction": "up"})
    assert moved.status_code == 200
    edit = client.get(f"/admin/rules/{rule.id}")
    assert edit.status_code == 200 and 'name="version"' in edit.text
    version = re.search(r'name="version" value="(\d+)"', edit.text).group(1)
    saved = post_form(
        client,
        f"/admin/rules/{rule.id}",
        f"/admin/rules/{rule.id}",
        {
            "version": version,
            "name": "VIP → 组长",
            "events": "created",
            "conditions": "{}",
            "actions": "[]",
        },
    )
    assert "已保存规则「VIP → 组长」" in saved.text
    gone = post_form(client, f"/admin/rules/{rule.id}", f"/admin/rules/{rule.id}/delete", {})
    assert "已删除规则" in gone.text


def test_the_dry_run_shows_which_rules_would_fire(signed_in, make_complaint):
    complaint = make_complaint("这个月被重复扣费了两次", category="账务/扣费异常/重复扣费")
    client = signed_in("admin1", role="admin", team=None)
    page = client.get("/admin/rules", params={"complaint": complaint.number, "event": "created"})
    assert page.status_code == 200
    row = re.search(r"<tr class=\"fires\">\s*<td>账务问题 → 财务部</td>", page.text)
    assert row, page.text
    assert "被「账务问题 → 财务部」停止" in page.text
    missing = client.get("/admin/rules", params={"complaint": "TS19990101-000001"})
    assert "没有这个投诉" in missing.text


def test_failed_deliveries_are_listed_and_can_be_sent_again(signed_in, db, settings, clock):
    make_staff(db, clock)
    from tests.flows import assign, create

    complaint_id = create(db, clock)
    assign(db, clock, complaint_id, "agent_a")
    clock.advance(minutes=61)
    worker(db, settings, clock).run_once()  # no SMTP server configured: the emails fail
    client = signed_in("admin1", role="admin", team=None)
    page = client.get("/admin/outbox").text
    assert "KESU_SMTP_HOST is not set" in page and "lead_a@example.com" in page
    with db.session(write=False) as session:
        failed = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed"))
        row_id = next(iter(failed)).id
    retried = post_form(client, "/admin/outbox", f"/admin/outbox/{row_id}/retry", {})
    assert "已重新排队" in retried.text
    with db.session(write=False) as session:
        assert session.get(OutboxMessage, row_id).status == "pending"


def test_the_bell_and_the_sla_panel(signed_in, make_complaint, db, settings, clock):
    complaint = make_complaint()
    client = signed_in("lead1", role="team_lead")
    assert 'class="bell"' in client.get("/").text
    # lead1 is in the service team; the complaint joins it, then breaches its first response
    from tests.flows import assign, make_staff

    make_staff(db, clock, {"agent_x": ("agent", "service")})
    assign(db, clock, complaint.id, "agent_x")
    clock.advance(minutes=61)
    worker(db, settings, clock).run_once()
    assert client.get("/api/v1/notifications").json()["unread"] == 1
    page = client.get("/notifications").text
    assert "【超时升级·1级】" in page
    done = post_form(client, "/notifications", "/notifications/read", {})
    assert done.status_code == 200
    assert client.get("/api/v1/notifications").json()["unread"] == 0
    detail = client.get(f"/complaints/{complaint.number}").text
    assert 'id="sla"' in detail and "首次响应" in detail and "升级 1 级" in detail
    client.get("/lang/en")
    english = client.get(f"/complaints/{complaint.number}").text
    assert "First response" in english and "Escalated to level 1" in english
