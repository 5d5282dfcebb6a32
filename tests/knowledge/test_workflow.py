"""Workflow, versions, votes, drafts invisible to agents, suggestions, turn into an article."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.complaints.models import Complaint
from kesu.knowledge.models import Article, ArticleVersion
from kesu.taxonomy.models import Category

API = "/api/v1/knowledge/articles"


def _new(client: Any, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    body = {"kind": "solution", "title": "耳机左耳无声", "body": "先检查蓝牙配对，再换货。"}
    body.update(over)
    response = client.post(API, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _act(client: Any, headers: dict[str, str], article_id: int, action: str) -> Any:
    return client.post(f"{API}/{article_id}/transitions", json={"action": action}, headers=headers)


def test_workflow_draft_review_published_archived(client, lead, admin, agent, db):
    made = _new(client, lead, tags=["耳机"], error_codes=["E12"])
    assert made["status"] == "draft" and made["version"] == 0
    # A lead writes and submits, but may not publish.
    assert _act(client, lead, made["id"], "submit").json()["status"] == "review"
    assert _act(client, lead, made["id"], "publish").status_code == 403
    published = _act(client, admin, made["id"], "publish").json()
    assert published["status"] == "published" and published["version"] == 1
    assert client.get(f"{API}/{made['id']}", headers=agent).status_code == 200
    # Submitting again is a 409 naming the status.
    again = _act(client, admin, made["id"], "submit")
    assert again.status_code == 409 and again.json()["code"] == "knowledge_status"
    assert _act(client, admin, made["id"], "archive").json()["status"] == "archived"
    assert client.get(f"{API}/{made['id']}", headers=agent).status_code == 404
    # An agent may not write at all.
    assert (
        client.post(
            API, json={"kind": "script", "title": "x", "body": "y"}, headers=agent
        ).status_code
        == 403
    )


def test_each_edit_of_a_published_article_is_a_new_version(client, admin, lead, db):
    made = _new(client, admin)
    _act(client, admin, made["id"], "publish")
    body = {"kind": "solution", "title": "耳机左耳无声（新）", "body": "第二版：直接换货。"}
    edited = client.put(f"{API}/{made['id']}", json=body, headers=admin).json()
    assert edited["status"] == "published" and edited["version"] == 2
    # A lead's edit of a published article goes back to review.
    body["body"] = "第三版：组长修改。"
    by_lead = client.put(f"{API}/{made['id']}", json=body, headers=lead).json()
    assert by_lead["status"] == "review"
    versions = client.get(f"{API}/{made['id']}/versions", headers=admin).json()
    assert [v["action"] for v in versions] == ["edit", "edit", "publish", "create"]
    assert versions[0]["author_label"] == "lead1" or versions[0]["author_id"] is not None
    assert versions[1]["body"] == "第二版：直接换货。" and versions[1]["version"] == 2
    with db.session(write=False) as session:
        actions = set(
            session.scalars(select(AuditLog.action).where(AuditLog.entity == "knowledge_article"))
        )
    assert {"knowledge.create", "knowledge.publish", "knowledge.edit"} <= actions


def test_bad_input_is_a_clear_4xx(client, admin):
    assert (
        client.post(API, json={"kind": "x", "title": "a", "body": "b"}, headers=admin).status_code
        == 422
    )
    bad = client.post(
        API, json={"kind": "law", "title": "a", "body": "b", "category_id": 99999}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["field"] == "category_id"
    assert (
        client.post(API, json={"kind": "law", "title": " ", "body": "b"}, headers=admin).status_code
        == 422
    )


def test_votes_one_per_user(client, admin, agent, make_user):
    made = _new(client, admin)
    _act(client, admin, made["id"], "publish")
    url = f"{API}/{made['id']}/votes"
    assert client.post(url, json={"helpful": True}, headers=agent).json()["helpful"] == 1
    assert client.post(url, json={"helpful": True}, headers=agent).json()["helpful"] == 1
    changed = client.post(url, json={"helpful": False}, headers=agent).json()
    assert changed == {"helpful": 0, "unhelpful": 1, "mine": False}
    other = make_user("agent2", "agent", "service")[1]
    assert client.post(url, json={"helpful": True}, headers=other).json()["helpful"] == 1


def test_usage_counts(client, admin, agent):
    made = _new(client, admin, kind="script")
    _act(client, admin, made["id"], "publish")
    for what in ("view", "insert", "insert"):
        r = client.post(f"{API}/{made['id']}/uses", json={"what": what}, headers=agent)
        assert r.status_code == 204
    shown = client.get(f"{API}/{made['id']}", headers=agent).json()
    assert (shown["views"], shown["inserts"]) == (1, 2)


def test_a_draft_is_invisible_to_agents_everywhere(
    client, lead, agent, browser, signed_in, make_complaint, db
):
    draft = _new(client, lead, title="草稿：耳机无声", body="耳机无声的草稿")
    assert client.get(f"{API}/{draft['id']}", headers=agent).status_code == 404
    assert client.get(f"{API}/{draft['id']}/versions", headers=agent).status_code == 404
    listed = client.get(API, headers=agent).json()
    assert draft["id"] not in [a["id"] for a in listed]
    assert client.get(API, params={"status": "draft"}, headers=agent).json() == []
    assert draft["id"] in [a["id"] for a in client.get(API, headers=lead).json()]
    complaint = make_complaint("耳机无声，左耳没有声音")
    suggested = client.get(f"/api/v1/complaints/{complaint.number}/knowledge", headers=agent).json()
    assert draft["id"] not in [h["article"]["id"] for h in suggested]
    by_lead = client.get(f"/api/v1/complaints/{complaint.number}/knowledge", headers=lead).json()
    assert draft["id"] in [h["article"]["id"] for h in by_lead]
    page = signed_in("agent9", role="agent")
    assert page.get(f"/knowledge/{draft['id']}").status_code == 404
    assert "草稿：耳机无声" not in page.get("/knowledge").text
    assert "草稿：耳机无声" not in page.get("/knowledge", params={"q": "耳机"}).text


def _category(db: Any, path: str) -> int:
    with db.session(write=False) as session:
        return session.scalar(select(Category.id).where(Category.path == path))


def _set(db: Any, complaint_id: int, **values: Any) -> None:
    with db.session() as session:
        row = session.get(Complaint, complaint_id)
        for k, v in values.items():
            setattr(row, k, v)
        session.commit()


def test_a_suggested_article_matches_the_complaints_category(
    client, admin, agent, make_complaint, db
):
    path = "产品质量/功能故障/电池续航"
    parent = _category(db, "产品质量/功能故障")
    mine = _new(client, admin, title="续航问题检查清单", body="查看耗电应用。", category_id=parent)
    _act(client, admin, mine["id"], "publish")
    elsewhere = _new(
        client,
        admin,
        title="电池续航的物流话术",
        body="电池续航 电池续航",
        category_id=_category(db, "物流服务"),
    )
    _act(client, admin, elsewhere["id"], "publish")
    complaint = make_complaint("手机电池续航太短，一天要充三次电")
    _set(db, complaint.id, category_id=_category(db, path), team_id=None, assignee_id=None)
    response = client.get(
        "/api/v1/knowledge/suggestions", params={"complaint": complaint.number}, headers=agent
    )
    assert response.status_code == 200, response.text
    hits = response.json()
    assert hits, "no suggestions"
    with db.session(write=False) as session:
        chain = {_category(db, path), parent, _category(db, "产品质量")}
        first = session.get(Article, hits[0]["article"]["id"])
        assert first.category_id in chain  # the best suggestion is in the category or above
    ids = [h["article"]["id"] for h in hits]
    assert mine["id"] in ids
    assert "category" in hits[ids.index(mine["id"])]["reasons"]
    if elsewhere["id"] in ids:
        assert ids.index(mine["id"]) < ids.index(elsewhere["id"])


def test_turn_a_resolved_complaint_into_an_article(client, lead, agent, make_complaint, db):
    complaint = make_complaint("耳机左耳没有声音，联系13800138000")
    outputs = {
        "findings": "耳机左声道焊点虚焊。",
        "solution": "换新耳机，并补偿 20 元优惠券。客户电话 13800138000",
        "measures": "质检增加焊点检查。",
    }
    open_again = client.post(f"/api/v1/complaints/{complaint.number}/knowledge", headers=lead)
    assert open_again.status_code == 409  # not resolved yet
    _set(db, complaint.id, stage="rating", outputs=outputs, product="X1 耳机", tags=["耳机"])
    assert (
        client.post(f"/api/v1/complaints/{complaint.number}/knowledge", headers=agent).status_code
        == 403
    )
    made = client.post(f"/api/v1/complaints/{complaint.number}/knowledge", headers=lead)
    assert made.status_code == 201, made.text
    article = made.json()
    assert article["status"] == "draft" and article["source_complaint_id"] == complaint.id
    for text in ("焊点虚焊", "换新耳机", "质检增加焊点检查"):
        assert text in article["body"]
    assert "13800138000" not in article["body"]
    assert article["product_models"] == ["X1 耳机"] and article["tags"] == ["耳机"]


def test_versions_rows_record_who(db, client, admin):
    made = _new(client, admin)
    with db.session(write=False) as session:
        rows = list(
            session.scalars(select(ArticleVersion).where(ArticleVersion.article_id == made["id"]))
        )
    assert len(rows) == 1 and rows[0].author_label == "admin1"
