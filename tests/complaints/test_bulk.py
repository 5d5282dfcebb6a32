"""POST /api/v1/complaints/bulk: each complaint through the ordinary service, out-of-scope ones
skipped and reported, bounded input refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from kesu.accounts.models import AuditLog, Team
from kesu.complaints.models import Complaint, ComplaintEvent
from tests.complaints.helpers import new_complaint


@pytest.fixture
def three(client, admin, lead, make_user):
    """Two complaints in the pool (the lead's scope) and one of another team's agent."""
    make_user("agent1", "agent", "service")
    make_user("carrier", "agent", "logistics")
    pool = [new_complaint(client, admin, order_no=f"SO-{i}") for i in range(2)]
    other = new_complaint(client, admin, order_no="SO-9")
    moved = client.post(
        f"/api/v1/complaints/{other['id']}/assign",
        json={"version": other["version"], "assignee": "carrier"},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    return pool, moved.json()


def bulk(client, headers, **body: Any):
    return client.post("/api/v1/complaints/bulk", json=body, headers=headers)


def test_bulk_assign_changes_the_ones_in_scope_and_reports_the_other(client, db, lead, three):
    pool, other = three
    with db.session() as session:
        service = session.scalar(select(Team.id).where(Team.code == "service"))
    ids = [pool[0]["id"], other["id"], pool[1]["id"]]
    answer = bulk(client, lead, ids=ids, action="assign", value={"team_id": service})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["updated"] == [pool[0]["id"], pool[1]["id"]]
    assert [(s["id"], s["reason"]) for s in body["skipped"]] == [(other["id"], "not_found")]
    assert body["skipped"][0]["number"] is None  # nothing told about a complaint out of scope
    with db.session() as session:
        for item in pool:
            complaint = session.get(Complaint, item["id"])
            assert complaint.team_id == service
            kinds = session.scalars(
                select(ComplaintEvent.kind).where(ComplaintEvent.complaint_id == item["id"])
            ).all()
            assert kinds.count("assigned") == 1
            audits = session.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(
                    AuditLog.entity_id == item["number"], AuditLog.action == "complaint.assigned"
                )
            )
            assert audits == 1
        untouched = session.get(Complaint, other["id"])
        assert untouched.version == other["version"]
        assert untouched.assignee.username == "carrier"


def test_bulk_severity_tag_and_category(client, db, lead, three):
    pool, _ = three
    ids = [c["id"] for c in pool]
    assert bulk(client, lead, ids=ids, action="severity", value="serious").status_code == 200
    assert bulk(client, lead, ids=ids, action="tag", value="回访").json()["updated"] == ids
    categories = client.get("/api/v1/categories", headers=lead).json()
    leaf = next(c for c in categories if c["level"] == 3)
    done = bulk(client, lead, ids=ids, action="category", value=leaf["path"])
    assert done.json()["updated"] == ids, done.text
    for item in pool:
        after = client.get(f"/api/v1/complaints/{item['id']}", headers=lead).json()
        assert after["severity"] == "serious" and "回访" in after["tags"]
        assert after["category"]["path"] == leaf["path"]
        events = client.get(f"/api/v1/complaints/{item['id']}/events", headers=lead).json()
        assert sum(e["kind"] == "updated" for e in events) == 3


def test_a_reassignment_without_a_reason_is_skipped_with_the_reason(client, admin, three):
    _, other = three
    answer = bulk(client, admin, ids=[other["id"]], action="assign", value={"assignee_id": 1})
    assert answer.status_code == 200
    skipped = answer.json()["skipped"]
    assert skipped[0]["reason"] == "invalid" and skipped[0]["number"] == other["number"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": list(range(1, 202)), "action": "tag", "value": "x"}, "ids"),
        ({"ids": [], "action": "tag", "value": "x"}, "ids"),
        ({"ids": [1], "action": "delete", "value": "x"}, "action"),
        ({"ids": [1], "action": "severity", "value": "huge"}, "value"),
        ({"ids": [1], "action": "tag", "value": "x" * 33}, "value"),
        ({"ids": [1], "action": "category", "value": "没有/这个/分类"}, "value"),
        ({"ids": [1], "action": "assign", "value": {"team_id": 99999}}, "value"),
        ({"ids": [2**70], "action": "tag", "value": "x"}, "ids"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, lead, three, body, field):
    answer = client.post("/api/v1/complaints/bulk", json=body, headers=lead)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"].split(".")[0] == field


def test_read_only_roles_may_not_bulk_change(client, make_user, three):
    _, auditor = make_user("watcher", "auditor", None)
    pool, _ = three
    answer = bulk(client, auditor, ids=[pool[0]["id"]], action="tag", value="x")
    assert answer.status_code == 403
