"""Finding 3: public channels may create or link a customer, never overwrite one.

Before the fix, a second complaint with the same phone replaced the customer's name and email,
so the first complaint's page showed the stranger's name; no audit row said so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.complaints.models import Complaint, Customer
from tests.web.conftest import csrf_of, hidden

FIRST = {"name": "王女士", "phone": "13800138000", "email": "wang@example.com"}


def _create(client: Any, headers: dict[str, str], customer: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/complaints",
        json={"channel": "api", "content": "耳机左耳没有声音，申请换货。", "customer": customer},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _submit(browser: Any, **fields: str) -> Any:
    page = browser.get("/submit").text
    data = {
        "csrf_token": csrf_of(page),
        "form_key": hidden(page, "form_key"),
        "content": "扫地机器人用了三天就无法开机",
        **fields,
    }
    return browser.post("/submit", data=data, follow_redirects=False)


def test_the_public_form_with_a_known_phone_links_but_does_not_overwrite(
    client, browser, db, agent
):
    first = _create(client, agent, FIRST)
    response = _submit(browser, name="冒名者", phone="13800138000", email="evil@example.com")
    assert response.status_code == 303, response.text

    with db.session(write=False) as session:
        [customer] = session.scalars(select(Customer)).all()
        assert (customer.name, customer.email) == ("王女士", "wang@example.com")
        second = session.scalars(select(Complaint).order_by(Complaint.id.desc())).first()
        assert second is not None and second.customer_id == customer.id  # linked
        assert (second.contact_name, second.contact_email) == ("冒名者", "evil@example.com")
        assert not session.scalars(
            select(AuditLog).where(AuditLog.entity == "customer", AuditLog.action != "contact.view")
        ).all()

    again = client.get(f"/api/v1/complaints/{first['id']}", headers=agent).json()
    assert again["customer"]["name"] == "王女士"
    assert again["customer"]["email"] == "wang@example.com"


def test_the_api_and_each_complaint_keep_what_they_said(client, db, agent):
    first = _create(client, agent, FIRST)
    second = _create(client, agent, {"name": "王先生", "phone": "13800138000", "tier": "vip"})
    assert second["customer"]["id"] == first["customer"]["id"]
    assert second["customer"]["name"] == "王先生"  # the complaint's own snapshot
    assert second["customer"]["tier"] == "standard"  # a caller cannot promote a known customer
    shown = client.get(f"/api/v1/complaints/{first['id']}", headers=agent).json()["customer"]
    assert (shown["name"], shown["phone"], shown["email"]) == (
        "王女士",
        "13800138000",
        "wang@example.com",
    )


def test_the_agents_entry_form_does_not_overwrite_either(client, signed_in, db, agent):
    first = _create(client, agent, FIRST)
    browser = signed_in("agent2", role="agent")
    page = browser.get("/complaints/new").text
    response = browser.post(
        "/complaints/new",
        data={
            "csrf_token": csrf_of(page),
            "form_key": hidden(page, "form_key"),
            "channel": "phone",
            "name": "另一个人",
            "phone": "13800138000",
            "email": "other@example.com",
            "tier": "key",
            "content": "电话投诉：退款一直没有到账",
        },
        follow_redirects=False,
    )
    assert response.status_code in (200, 303), response.text
    with db.session(write=False) as session:
        customer = session.get(Customer, first["customer"]["id"])
        assert customer is not None
        assert (customer.name, customer.email, customer.tier) == (
            "王女士",
            "wang@example.com",
            "standard",
        )
        assert session.scalar(select(Complaint.id).where(Complaint.contact_name == "另一个人"))
