"""Creating complaints: idempotency, validation, numbering, repeats, assignment, merging."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kesu.accounts.service import SYSTEM
from kesu.complaints import registration
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.complaints.schemas import ComplaintCreate
from tests.complaints.helpers import new_complaint

BODY = {
    "channel": "app",
    "customer": {"name": "李先生", "phone": "13900000001"},
    "content": "扫地机器人用了三天就无法开机",
}


def _count(db) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Complaint)) or 0)


def test_idempotency_key_replays_the_same_complaint(client, agent, db):
    headers = {**agent, "Idempotency-Key": "order-77-retry"}
    first = client.post("/api/v1/complaints", json=BODY, headers=headers)
    second = client.post("/api/v1/complaints", json=BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    assert _count(db) == 1
    changed = client.post(
        "/api/v1/complaints", json={**BODY, "content": "别的内容"}, headers=headers
    )
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"
    assert _count(db) == 1


def test_concurrent_retries_create_one_complaint(db, clock):
    data = ComplaintCreate.model_validate(BODY)
    outcomes: list[str] = []

    def submit() -> None:
        # What the API route does: create and commit; on a unique-key clash, replay the winner.
        try:
            with db.session() as session:
                complaint, _ = registration.create_complaint(
                    session, clock, SYSTEM, data, "same-key"
                )
                number = complaint.number
            outcomes.append(number)
        except IntegrityError:
            with db.session(write=False) as session:
                winner = registration.replay_after_conflict(session, "public", "same-key", data)
                assert winner is not None
                outcomes.append(winner.number)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(db) == 1
    assert len(outcomes) == 6 and len(set(outcomes)) == 1


def test_numbers_are_sequential_per_day(client, agent, clock):
    first = new_complaint(client, agent)
    second = new_complaint(client, agent, order_no="SO-2")
    assert first["number"] == "TS20261123-000001"
    assert second["number"] == "TS20261123-000002"
    clock.advance(days=1)
    assert new_complaint(client, agent, order_no="SO-3")["number"] == "TS20261124-000001"


def test_bad_input_names_the_field_and_writes_nothing(client, agent, db):
    cases = [
        ({**BODY, "channel": "fax"}, "channel"),
        ({**BODY, "content": ""}, "content"),
        ({**BODY, "customer": {"name": "x"}}, "customer"),
        ({**BODY, "customer": {"name": "x", "phone": "abc"}}, "customer.phone"),
        ({**BODY, "customer": {"name": "x", "email": "not-an-email"}}, "customer.email"),
        ({**BODY, "severity": "huge"}, "severity"),
        ({**BODY, "unexpected": 1}, "unexpected"),
        ({**BODY, "category": "不存在/的分类"}, "category"),
        ({**BODY, "custom_fields": {"nope": 1}}, "custom_fields.nope"),
        ({**BODY, "custom_fields": {"purchase_date": "yesterday"}}, "custom_fields.purchase_date"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/complaints", json=body, headers=agent)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field, response.json()
    bad_json = client.post(
        "/api/v1/complaints",
        content=b"{not json",
        headers={**agent, "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422
    assert _count(db) == 0


def test_oversize_body_is_refused(client, agent, db):
    huge = {**BODY, "content": "很" * 600_000}
    response = client.post("/api/v1/complaints", json=huge, headers=agent)
    assert response.status_code == 413
    assert _count(db) == 0


def test_authentication_is_required(client):
    assert client.get("/api/v1/complaints").status_code == 401
    bad = client.get("/api/v1/complaints", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_category_sets_default_severity(client, agent):
    complaint = new_complaint(client, agent, category="产品质量/异物/生产异物")
    assert complaint["category"]["path"] == "产品质量/异物/生产异物"
    assert complaint["severity"] == "serious" and complaint["priority"] == 2


def test_vip_customers_get_higher_priority(client, agent):
    complaint = new_complaint(
        client, agent, customer={"name": "赵总", "phone": "13911112222", "tier": "vip"}
    )
    assert complaint["priority"] == 2


def test_repeat_complaint_is_linked(client, agent):
    first = new_complaint(client, agent)
    again = new_complaint(client, agent, content="还是没有人处理我的耳机问题！")
    assert again["repeat_of"] == first["id"]
    other = new_complaint(client, agent, order_no="SO-9999")
    assert other["repeat_of"] is None


def test_assign_and_reassign_with_reason(client, agent, lead, make_user):
    other, _ = make_user("agent2", "agent", "service")
    complaint = new_complaint(client, agent)
    url = f"/api/v1/complaints/{complaint['id']}/assign"
    denied = client.post(
        url, json={"version": complaint["version"], "assignee": "agent2"}, headers=agent
    )
    assert denied.status_code == 403
    claimed = client.post(
        url, json={"version": complaint["version"], "assignee": "agent1"}, headers=agent
    )
    assert claimed.status_code == 200, claimed.text
    claimed_body = claimed.json()
    assert claimed_body["assignee"]["username"] == "agent1"
    assert claimed_body["team"]["code"] == "service"
    no_reason = client.post(
        url, json={"version": claimed_body["version"], "assignee": "agent2"}, headers=lead
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    moved = client.post(
        url,
        json={"version": claimed_body["version"], "assignee": "agent2", "reason": "agent1 休假"},
        headers=lead,
    )
    assert moved.status_code == 200 and moved.json()["assignee"]["id"] == other.id
    events = client.get(f"/api/v1/complaints/{complaint['id']}/events", headers=lead).json()
    assigned = [e for e in events if e["kind"] == "assigned"]
    assert len(assigned) == 2 and assigned[1]["data"]["reason"] == "agent1 休假"


def test_agents_only_see_their_team_and_the_pool(client, agent, lead, make_user):
    _, finance_agent = make_user("fin1", "agent", "finance")
    complaint = new_complaint(client, agent)
    client.post(
        f"/api/v1/complaints/{complaint['id']}/assign",
        json={"version": complaint["version"], "team": "service"},
        headers=lead,
    )
    assert (
        client.get(f"/api/v1/complaints/{complaint['id']}", headers=finance_agent).status_code
        == 404
    )
    listed = client.get("/api/v1/complaints", headers=finance_agent).json()["items"]
    assert complaint["id"] not in [c["id"] for c in listed]


def test_merge_closes_the_duplicate(client, agent, lead, db):
    keep = new_complaint(client, agent)
    duplicate = new_complaint(client, agent, content="同一个耳机问题，又投诉一次")
    response = client.post(
        f"/api/v1/complaints/{duplicate['id']}/merge",
        json={"version": duplicate["version"], "into": keep["number"]},
        headers=lead,
    )
    assert response.status_code == 200, response.text
    merged = client.get(f"/api/v1/complaints/{duplicate['id']}", headers=lead).json()
    assert merged["merged_into"] == keep["id"] and merged["stage"] == "archived"
    again = client.post(
        f"/api/v1/complaints/{duplicate['id']}/merge",
        json={"version": merged["version"], "into": keep["number"]},
        headers=lead,
    )
    assert again.status_code == 409
    with db.session(write=False) as session:
        kinds = set(
            session.scalars(
                select(ComplaintEvent.kind).where(ComplaintEvent.complaint_id == keep["id"])
            )
        )
    assert "merged" in kinds


def test_list_filters_and_keyset_pagination(client, agent, clock):
    created = [new_complaint(client, agent, order_no=f"SO-{i}")["id"] for i in range(7)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/complaints", params=params, headers=agent).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(created, reverse=True)
    assert (
        client.get("/api/v1/complaints", params={"cursor": "%%%"}, headers=agent).status_code == 422
    )
    assert (
        client.get("/api/v1/complaints", params={"stage": "nope"}, headers=agent).status_code == 422
    )
    by_stage = client.get("/api/v1/complaints", params={"stage": "registered"}, headers=agent)
    assert len(by_stage.json()["items"]) == 7


def test_overdue_filter_follows_the_clock(client, agent, clock):
    complaint = new_complaint(client, agent)
    overdue = client.get("/api/v1/complaints", params={"overdue": "true"}, headers=agent).json()
    assert overdue["items"] == []
    clock.advance(minutes=61)
    overdue = client.get("/api/v1/complaints", params={"overdue": "true"}, headers=agent).json()
    assert [c["id"] for c in overdue["items"]] == [complaint["id"]]
    assert overdue["items"][0]["overdue"] is True


def test_lookup_by_number_and_search(client, agent):
    complaint = new_complaint(client, agent, title="耳机没声音")
    by_number = client.get(f"/api/v1/complaints/{complaint['number']}", headers=agent)
    assert by_number.status_code == 200 and by_number.json()["id"] == complaint["id"]
    found = client.get("/api/v1/complaints", params={"q": "没声音"}, headers=agent).json()
    assert [c["id"] for c in found["items"]] == [complaint["id"]]
    assert client.get("/api/v1/complaints/TS19990101-000001", headers=agent).status_code == 404


def test_healthz_and_openapi(client):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/v1/complaints/{ref}/transitions" in spec["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/docs-assets/swagger-ui-bundle.js" in docs.text
