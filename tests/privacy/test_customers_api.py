"""Staff edit and merge customer records through /api/v1/customers, audited before/after."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.complaints.models import Complaint, Customer


def _create(client: Any, headers: dict[str, str], **customer: Any) -> dict[str, Any]:
    body = {"channel": "api", "content": "退款一直没有到账", "customer": customer}
    response = client.post("/api/v1/complaints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def manager(make_user: Any) -> dict[str, str]:
    return dict(make_user("manager1", "manager", None)[1])


def _audit(db: Any, action: str) -> list[AuditLog]:
    with db.session(write=False) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_a_manager_edits_a_customer_and_the_change_is_audited(client, db, agent, manager):
    created = _create(client, agent, name="王女士", phone="13800138000")
    customer_id = created["customer"]["id"]
    response = client.patch(
        f"/api/v1/customers/{customer_id}",
        json={"name": "王芳", "email": "wangfang@example.com", "tier": "vip", "reason": "核实"},
        headers=manager,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["email"], body["tier"]) == ("王芳", "wangfang@example.com", "vip")
    assert body["complaints"][0]["contact"]["name"] == "王女士"  # what the complaint said
    [row] = _audit(db, "customer.update")
    assert row.changes["before"] == {"name": "王女士", "email": None, "tier": "standard"}
    assert row.changes["after"]["name"] == "王芳" and row.changes["reason"] == "核实"


def test_agents_and_auditors_may_not_edit_customers(client, agent, make_user):
    created = _create(client, agent, name="王女士", phone="13800138000")
    url = f"/api/v1/customers/{created['customer']['id']}"
    _, auditor = make_user("aud1", "auditor", None)
    for headers in (agent, auditor):
        assert client.patch(url, json={"name": "X"}, headers=headers).status_code == 403
    shown = client.get(url, headers=auditor).json()
    assert shown["phone"] == "138****8000"
    assert shown["complaints"][0]["contact"]["phone"] == "138****8000"


def test_bad_input_is_a_4xx_naming_the_field(client, agent, manager):
    created = _create(client, agent, name="王女士", phone="13800138000")
    url = f"/api/v1/customers/{created['customer']['id']}"
    for body, field in (({"email": "not an email"}, "email"), ({"name": None}, "name")):
        response = client.patch(url, json=body, headers=manager)
        assert response.status_code == 422, response.text
        assert field in response.text
    assert client.get("/api/v1/customers/99999", headers=manager).status_code == 404
    assert client.get("/api/v1/customers/99999999999", headers=manager).status_code == 422


def test_merging_moves_the_complaints_and_removes_the_duplicate(client, db, agent, manager):
    first = _create(client, agent, name="王女士", phone="13800138000")
    second = _create(client, agent, name="王女士", email="wang@example.com")
    keep, duplicate = first["customer"]["id"], second["customer"]["id"]
    assert keep != duplicate
    response = client.post(
        f"/api/v1/customers/{duplicate}/merge",
        json={"into": keep, "reason": "同一人"},
        headers=manager,
    )
    assert response.status_code == 200, response.text
    kept = response.json()
    assert kept["id"] == keep and kept["email"] == "wang@example.com"  # filled from the duplicate
    assert {c["number"] for c in kept["complaints"]} == {first["number"], second["number"]}
    with db.session(write=False) as session:
        assert session.get(Customer, duplicate) is None
        moved = session.scalar(select(Complaint).where(Complaint.number == second["number"]))
        assert moved is not None and moved.customer_id == keep
    [row] = _audit(db, "customer.merge")
    assert row.changes["before"]["merged"]["email"] == "wang@example.com"
    events = client.get(f"/api/v1/complaints/{second['id']}/events", headers=manager).json()
    assert events[-1]["kind"] == "customer_merged"
    same = client.post(f"/api/v1/customers/{keep}/merge", json={"into": keep}, headers=manager)
    assert same.status_code == 422


def test_a_customer_outside_an_agents_scope_is_not_found(client, agent, make_user, admin):
    created = _create(client, admin, name="王女士", phone="13800138000")
    assign = client.post(
        f"/api/v1/complaints/{created['id']}/assign",
        json={"version": created["version"], "team": "engineering"},
        headers=admin,
    )
    assert assign.status_code == 200, assign.text
    url = f"/api/v1/customers/{created['customer']['id']}"
    assert client.get(url, headers=agent).status_code == 404  # agent1 is in "service"
    assert client.get(url, headers=admin).status_code == 200
