"""The customer page: details and complaints for every staff reader, editing, merging and
anonymising for the roles allowed to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.complaints.models import Customer
from tests.web.conftest import csrf_of


def _customer(make_complaint: Any, **customer: Any) -> int:
    complaint = make_complaint(customer=customer)
    return int(complaint.customer_id)


def test_a_manager_sees_and_edits_a_customer(signed_in, make_complaint, db):
    customer_id = _customer(make_complaint, name="王女士", phone="13800138000")
    browser = signed_in("manager1", role="manager", team=None)
    page = browser.get(f"/customers/{customer_id}")
    assert page.status_code == 200
    assert "王女士" in page.text and "13800138000" in page.text and "TS" in page.text
    response = browser.post(
        f"/customers/{customer_id}/edit",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "王芳",
            "phone": "13800138000",
            "email": "wangfang@example.com",
            "tier": "vip",
            "reason": "客户来电更正",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with db.session(write=False) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and (customer.name, customer.tier) == ("王芳", "vip")
        assert session.scalar(select(AuditLog).where(AuditLog.action == "customer.update"))
    shown = browser.get(f"/customers/{customer_id}").text
    assert "王芳" in shown and "王女士" in shown  # the record, and what the complaint said

    bad = browser.post(
        f"/customers/{customer_id}/edit",
        data={"csrf_token": csrf_of(shown), "name": "王芳", "email": "not an email"},
    )
    assert bad.status_code == 422 and "邮箱" in bad.text


def test_an_auditor_sees_masked_values_and_no_forms(signed_in, make_complaint):
    customer_id = _customer(make_complaint, name="王女士", phone="13800138000")
    browser = signed_in("auditor1", role="auditor", team=None)
    page = browser.get(f"/customers/{customer_id}")
    assert page.status_code == 200
    assert "13800138000" not in page.text and "138****8000" in page.text
    assert "/edit" not in page.text and "/anonymize" not in page.text
    assert browser.post(f"/customers/{customer_id}/edit", data={}).status_code == 403


def test_merging_on_the_page(signed_in, make_complaint, db):
    keep = _customer(make_complaint, name="王女士", phone="13800138000")
    duplicate = _customer(make_complaint, name="王女士", email="wang@example.com")
    browser = signed_in("manager1", role="manager", team=None)
    page = browser.get(f"/customers/{duplicate}").text
    response = browser.post(
        f"/customers/{duplicate}/merge",
        data={"csrf_token": csrf_of(page), "into": str(keep), "reason": "同一人"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == f"/customers/{keep}"
    bad = browser.post(f"/customers/{keep}/merge", data={"csrf_token": csrf_of(page), "into": "²"})
    assert bad.status_code == 422
    with db.session(write=False) as session:
        assert session.get(Customer, duplicate) is None


def test_anonymizing_on_the_page_needs_confirmation_and_a_reason(signed_in, make_complaint, db):
    customer_id = _customer(make_complaint, name="王女士", phone="13800138000")
    browser = signed_in("admin1", role="admin", team=None)
    page = browser.get(f"/customers/{customer_id}").text
    assert "/anonymize" in page
    url = f"/customers/{customer_id}/anonymize"
    token = csrf_of(page)
    unconfirmed = browser.post(url, data={"csrf_token": token, "reason": "申请 #7"})
    assert unconfirmed.status_code == 422
    no_reason = browser.post(url, data={"csrf_token": token, "confirm": "yes"})
    assert no_reason.status_code == 422
    with db.session(write=False) as session:
        assert session.get(Customer, customer_id).phone == "13800138000"  # nothing written
    done = browser.post(
        url,
        data={"csrf_token": token, "confirm": "yes", "reason": "申请 #7"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = browser.get(f"/customers/{customer_id}").text
    assert "13800138000" not in after and "王女士" not in after and "（已匿名）" in after
