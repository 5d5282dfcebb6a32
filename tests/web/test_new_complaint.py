"""The agent's fast-entry form for complaints taken by phone, at the desk or by email."""

from __future__ import annotations

from sqlalchemy import select

from kesu.complaints.models import Complaint
from tests.web.conftest import csrf_of, hidden

FORM = {
    "channel": "phone",
    "name": "陈先生",
    "phone": "13511112222",
    "tier": "vip",
    "region": "杭州",
    "content": "空调安装后一直漏水，师傅两次上门都没修好",
    "remedy": "repair",
    "order_no": "SO-5566",
    "severity": "moderate",
    "cf_purchase_date": "2026-10-01",
}


def test_an_agent_registers_a_phone_complaint_once(signed_in, db):
    client = signed_in()
    page = client.get("/complaints/new")
    assert page.status_code == 200 and 'name="channel"' in page.text
    data = {"csrf_token": csrf_of(page.text), "form_key": hidden(page.text, "form_key"), **FORM}
    first = client.post("/complaints/new", data=data, follow_redirects=False)
    again = client.post("/complaints/new", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint)).all()
        assert complaint.channel == "phone" and complaint.severity == "moderate"
        assert complaint.customer.tier == "vip" and complaint.customer.region == "杭州"
        assert complaint.custom_fields == {"purchase_date": "2026-10-01"}
    shown = client.get(first.headers["location"]).text
    assert f"已登记投诉 {complaint.number}" in shown and "电话" in shown


def test_only_staff_channels_are_offered_and_errors_keep_the_form(signed_in, db):
    client = signed_in()
    page = client.get("/complaints/new").text
    assert 'value="web"' not in page
    data = {
        "csrf_token": csrf_of(page),
        "form_key": hidden(page, "form_key"),
        **FORM,
        "cf_purchase_date": "last week",
    }
    refused = client.post("/complaints/new", data=data)
    assert refused.status_code == 422
    assert "购买日期" in refused.text and "空调安装后一直漏水" in refused.text
    with db.session(write=False) as session:
        assert session.scalars(select(Complaint)).all() == []


def test_the_form_needs_a_signed_in_user(browser):
    response = browser.get("/complaints/new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_complaint_routed_to_another_team_ends_on_a_confirmation_not_a_404(signed_in, db):
    """The seeded rule sends a technical complaint to 技术支持部; its author (a service agent)
    may no longer open it, but sees the number, the tracking link and where it went."""
    client = signed_in()
    page = client.get("/complaints/new").text
    data = {
        "csrf_token": csrf_of(page),
        "form_key": hidden(page, "form_key"),
        **FORM,
        "category": "产品质量/功能故障/无法开机",
        "content": "手机无法开机",
    }
    with db.session(write=False) as session:
        from kesu.taxonomy.models import Category

        data["category"] = str(
            session.scalar(select(Category.id).where(Category.path == data["category"]))
        )
    created = client.post("/complaints/new", data=data, follow_redirects=False)
    assert created.status_code == 303
    shown = client.get(created.headers["location"])
    assert shown.status_code == 200
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint)).all()
        assert complaint.team.code == "engineering"
        number, token = complaint.number, complaint.tracking_token
    assert number in shown.text and f"/t/{token}" in shown.text
    assert "技术支持部" in shown.text and f'href="/complaints/{number}"' not in shown.text
    assert client.get(f"/complaints/{number}").status_code == 404  # indeed out of scope now


def test_the_confirmation_links_the_complaint_when_the_author_still_sees_it(signed_in, db):
    client = signed_in()
    page = client.get("/complaints/new").text
    data = {"csrf_token": csrf_of(page), "form_key": hidden(page, "form_key"), **FORM}
    shown = client.post("/complaints/new", data=data).text
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint)).all()
    assert f'href="/complaints/{complaint.number}"' in shown
    assert f"/t/{complaint.tracking_token}" in shown


def test_only_the_author_sees_the_confirmation(signed_in, browser, db, make_complaint):
    complaint = make_complaint()
    client = signed_in()
    assert client.get(f"/complaints/new/done/{complaint.number}").status_code == 404
