"""Similar cases through the API and the complaint page, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kesu.triage.models import SimilarTerm
from tests.complaints.helpers import move, new_complaint
from tests.web.conftest import HTML, login

WATCH = "产品质量/功能故障/无法开机"
REPAIR = "售后支持/维修/维修后仍故障"
DELIVERY = "物流服务/配送延误/物流停滞"
TO_RATING = [
    ("investigating", {}),
    ("proposing", {"findings": "主板批次问题"}),
    ("confirming", {"solution": "为客户免费更换新手表"}),
    ("rectifying", {}),
    ("feedback", {"measures": "已通知产线加强检测"}),
    ("rating", {"result": "新手表已签收，开机正常"}),
]


def resolve(client: TestClient, headers: dict[str, str], complaint: dict[str, Any]) -> Any:
    for to, outputs in TO_RATING:
        response = move(client, headers, complaint, to, **outputs)
        assert response.status_code == 200, (to, response.text)
        complaint = response.json()
    return complaint


def similar_to(client: TestClient, headers: dict[str, str], complaint: dict[str, Any]) -> Any:
    return client.get(f"/api/v1/complaints/{complaint['id']}/similar", headers=headers)


@pytest.fixture
def cases(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    """A new watch complaint and, around it, resolved and open ones of this and other kinds."""

    def make(content: str, category: str, resolved: bool) -> Any:
        complaint = new_complaint(client, admin, content=content, category=category)
        return resolve(client, admin, complaint) if resolved else complaint

    return {
        # resolved, same kind, a little less alike in words than `other_kind`
        "same_kind": make("智能手表无法开机，充电也没有反应。", WATCH, True),
        # resolved, other kind, nearly the same words
        "other_kind": make("智能手表开机黑屏，充电后仍然无法开机，维修过一次。", REPAIR, True),
        "open": make("智能手表开机黑屏，无法开机。", WATCH, False),
        "unrelated": make("快递三天了物流信息一直停滞。", DELIVERY, True),
        "query": make("新买的智能手表开机黑屏，充电后仍然无法开机。", WATCH, False),
    }


def test_similar_cases_return_resolved_complaints_of_the_same_kind_first(client, admin, cases):
    response = similar_to(client, admin, cases["query"])
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["number"] for i in items] == [
        cases["same_kind"]["number"],
        cases["other_kind"]["number"],
    ]  # not the open one, not the unrelated one, not the complaint itself
    first, second = items
    assert first["same_category"] and not second["same_category"]
    assert second["score"] > first["score"]  # the kind outranks a closer wording
    assert first["category_path"] == WATCH and first["stage"] == "rating"
    assert first["solution"] == "为客户免费更换新手表"
    assert first["result"] == "新手表已签收，开机正常"
    assert first["compensation"] is None and first["resolved_at"]


def test_reopening_removes_a_complaint_and_archiving_keeps_it(client, admin, cases, db):
    same = cases["same_kind"]
    response = client.post(
        f"/api/v1/complaints/{same['id']}/reopen",
        json={"reason": "客户反馈手表又无法开机", "version": same["version"]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    items = similar_to(client, admin, cases["query"]).json()["items"]
    assert [i["number"] for i in items] == [cases["other_kind"]["number"]]
    with db.session(write=False) as session:
        rows = select(func.count()).where(SimilarTerm.complaint_id == same["id"])
        assert session.scalar(rows) == 0

    archived = move(client, admin, cases["other_kind"], "archived")
    assert archived.status_code == 200, archived.text
    items = similar_to(client, admin, cases["query"]).json()["items"]
    assert [i["stage"] for i in items] == ["archived"]


def test_k_limits_the_answer(client, admin, cases):
    response = client.get(f"/api/v1/complaints/{cases['query']['id']}/similar?k=1", headers=admin)
    assert [i["number"] for i in response.json()["items"]] == [cases["same_kind"]["number"]]
    bad = client.get(f"/api/v1/complaints/{cases['query']['id']}/similar?k=0", headers=admin)
    assert bad.status_code == 422


def test_out_of_scope_is_404_and_answers_stay_in_scope(client, admin, make_user, cases):
    _, agent = make_user("agent_service", "agent", "service")
    for key in ("query", "same_kind"):
        complaint = cases[key]
        response = client.post(
            f"/api/v1/complaints/{complaint['id']}/assign",
            json={"team": "quality", "version": complaint["version"]},
            headers=admin,
        )
        assert response.status_code == 200, response.text
    assert similar_to(client, agent, cases["query"]).status_code == 404
    # an agent asking about a complaint they may see gets only complaints they may see
    visible = new_complaint(client, admin, content="智能手表开机黑屏，无法开机。")
    to_service = {"team": "service", "version": visible["version"]}
    assert client.post(
        f"/api/v1/complaints/{visible['id']}/assign", json=to_service, headers=admin
    ).is_success
    response = similar_to(client, agent, visible)
    assert response.status_code == 200, response.text
    seen_by_agent = [i["number"] for i in response.json()["items"]]
    seen_by_admin = [i["number"] for i in similar_to(client, admin, visible).json()["items"]]
    assert cases["same_kind"]["number"] in seen_by_admin
    assert cases["same_kind"]["number"] not in seen_by_agent


def test_the_complaint_page_shows_similar_cases(client, admin, make_user, cases):
    make_user("admin_page", "admin", None)
    assert login(client, "admin_page").status_code == 303
    page = client.get(f"/complaints/{cases['query']['number']}", headers=HTML)
    assert page.status_code == 200
    assert "相似案例" in page.text and cases["same_kind"]["number"] in page.text
    assert "为客户免费更换新手表" in page.text and cases["open"]["number"] not in page.text
    client.get("/lang/en")
    english = client.get(f"/complaints/{cases['unrelated']['number']}", headers=HTML).text
    assert "Similar cases" in english and "No similar resolved complaints yet" in english


def test_a_category_edit_moves_a_case_and_a_merge_removes_it(client, admin, cases, db):
    other = cases["other_kind"]
    response = client.patch(
        f"/api/v1/complaints/{other['id']}",
        json={"category": WATCH, "version": other["version"], "reason": "分类有误"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    items = similar_to(client, admin, cases["query"]).json()["items"]
    assert [i["same_category"] for i in items] == [True, True]
    assert items[0]["number"] == other["number"]  # now the same kind, and the closer wording

    response = client.post(
        f"/api/v1/complaints/{other['id']}/merge",
        json={"into": cases["same_kind"]["number"], "version": response.json()["version"]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    items = similar_to(client, admin, cases["query"]).json()["items"]
    assert [i["number"] for i in items] == [cases["same_kind"]["number"]]
    with db.session(write=False) as session:
        rows = select(func.count()).where(SimilarTerm.complaint_id == other["id"])
        assert session.scalar(rows) == 0
