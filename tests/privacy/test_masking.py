"""Finding 9: contact details are masked by role, and every unmasked read is audited.

Before the fix the detail page and the API showed every role (auditor and finance included)
the full phone and email, and no read left a trace.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.accounts.service import SYSTEM
from kesu.complaints.models import Complaint
from kesu.privacy.masking import mask_text
from kesu.privacy.service import record_export
from tests.web.conftest import csrf_of, hidden

CUSTOMER = {"name": "王女士", "phone": "13800138000", "email": "wang@example.com"}
TEXT = "耳机坏了，请回电 13800138000 或发邮件到 wang@example.com，订单金额 199 元。"


def _create(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/complaints",
        json={"channel": "api", "content": TEXT, "customer": CUSTOMER},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _contact_reads(db: Any) -> list[AuditLog]:
    with db.session(write=False) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == "contact.view")))


def test_auditor_and_finance_see_masked_contacts_in_the_api(client, db, agent, make_user):
    created = _create(client, agent)
    for role in ("auditor", "finance_approver"):
        _, headers = make_user(f"r-{role}", role, None)
        shown = client.get(f"/api/v1/complaints/{created['id']}", headers=headers).json()
        assert shown["customer"]["phone"] == "138****8000"
        assert shown["customer"]["email"] == "w***@example.com"
        assert "13800138000" not in shown["content"] and "138****8000" in shown["content"]
        assert "wang@example.com" not in str(shown) and "199 元" in shown["content"]
        events = client.get(f"/api/v1/complaints/{created['id']}/events", headers=headers)
        assert "13800138000" not in events.text
    assert _contact_reads(db) == []  # masked reads are not contact reads


def test_handlers_see_contacts_and_each_read_is_audited_once_a_day(client, db, clock, agent):
    created = _create(client, agent)
    for _ in range(2):
        shown = client.get(f"/api/v1/complaints/{created['id']}", headers=agent).json()
        assert shown["customer"]["phone"] == "13800138000"
        assert shown["customer"]["email"] == "wang@example.com"
    events = client.get(f"/api/v1/complaints/{created['id']}/events", headers=agent)
    assert events.status_code == 200  # the timeline read is the same day's row
    [read] = _contact_reads(db)
    assert read.entity_id == created["number"] and read.actor_label
    assert "13800138000" not in str(read.changes)
    clock.advance(timedelta(days=1))
    client.get(f"/api/v1/complaints/{created['id']}", headers=agent)
    assert len(_contact_reads(db)) == 2


def test_the_complaint_page_masks_for_an_auditor(client, signed_in, db, agent):
    created = _create(client, agent)
    browser = signed_in("auditor1", role="auditor", team=None)
    page = browser.get(f"/complaints/{created['number']}")
    assert page.status_code == 200
    assert "13800138000" not in page.text and "wang@example.com" not in page.text
    assert "138****8000" in page.text and "w***@example.com" in page.text
    assert _contact_reads(db) == []


def test_the_complaint_page_shows_an_agent_the_contact_and_audits_it(signed_in, db):
    browser = signed_in("agent9", role="agent")
    form = browser.get("/complaints/new").text
    data = {"channel": "phone", **CUSTOMER, "content": TEXT, "form_key": hidden(form, "form_key")}
    browser.post("/complaints/new", data={"csrf_token": csrf_of(form), **data})
    with db.session(write=False) as session:
        number = session.scalar(select(Complaint.number))
    page = browser.get(f"/complaints/{number}")
    assert "13800138000" in page.text and "wang@example.com" in page.text
    assert [r.entity_id for r in _contact_reads(db)] == [number]


def test_mask_text_keeps_amounts_dates_and_order_numbers():
    text = "订单 SO20261101000123 于 2026-11-01 付款 1999999 元，电话 010-12345678"
    assert (
        mask_text(text) == "订单 SO20261101000123 于 2026-11-01 付款 1999999 元，电话 010*****5678"
    )


def test_an_export_leaves_an_audit_row(db, clock):
    with db.session() as session:
        record_export(session, clock, SYSTEM, "complaints", 12, True, {"team": "service"})
        session.commit()
    with db.session(write=False) as session:
        [row] = session.scalars(select(AuditLog).where(AuditLog.action == "export"))
    assert row.entity == "complaints"
    assert row.changes == {"rows": 12, "masked": True, "filters": {"team": "service"}}


def test_reading_a_customer_record_unmasked_is_audited(client, db, agent, make_user):
    created = _create(client, agent)
    _, manager = make_user("manager1", "manager", None)
    url = f"/api/v1/customers/{created['customer']['id']}"
    assert client.get(url, headers=manager).json()["phone"] == "13800138000"
    assert [r.entity for r in _contact_reads(db)] == ["customer"]


def test_stage_outputs_are_masked_for_an_auditor(client, db, agent, make_user):
    created = _create(client, agent)
    with db.session() as session:
        complaint = session.get(Complaint, created["id"])
        assert complaint is not None
        complaint.outputs = {"findings": "已联系 13800138000 核实"}
        complaint.custom_fields = {"store": "wang@example.com"}
        session.commit()
    _, auditor = make_user("aud2", "auditor", None)
    shown = client.get(f"/api/v1/complaints/{created['id']}", headers=auditor).json()
    assert shown["outputs"] == {"findings": "已联系 138****8000 核实"}
    assert shown["custom_fields"] == {"store": "w***@example.com"}
