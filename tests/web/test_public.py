"""The customer's pages: the public complaint form and the tracking page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kesu.accounts.service import Actor
from kesu.complaints import lifecycle, service
from kesu.complaints.models import Complaint
from tests.web.conftest import csrf_of, hidden, post_form

FORM = {
    "name": "李先生",
    "phone": "13900000001",
    "content": "扫地机器人用了三天就无法开机",
    "remedy": "repair",
}


def submit(browser, **fields: str) -> Any:
    page = browser.get("/submit").text
    data = {"csrf_token": csrf_of(page), "form_key": hidden(page, "form_key"), **FORM, **fields}
    return browser.post("/submit", data=data, follow_redirects=False)


def complaints(db) -> list[Complaint]:
    with db.session(write=False) as session:
        return list(session.scalars(select(Complaint).order_by(Complaint.id)))


def test_public_form_creates_a_complaint_and_shows_its_number(browser, db):
    page = browser.get("/submit")
    assert page.status_code == 200
    assert 'name="viewport"' in page.text and 'name="cf_store"' in page.text
    response = submit(browser, order_no="SO-77", product="扫地机器人 S1", cf_store="天猫旗舰店")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/t/")
    tracking = browser.get(response.headers["location"])
    [complaint] = complaints(db)
    assert complaint.channel == "web" and complaint.order_no == "SO-77"
    assert complaint.remedy == "repair" and complaint.custom_fields == {"store": "天猫旗舰店"}
    assert complaint.number in tracking.text
    assert f"http://testserver/t/{complaint.tracking_token}" in tracking.text
    assert "提交成功" in tracking.text and "已受理" in tracking.text


def test_a_double_submit_of_one_form_creates_one_complaint(browser, db):
    page = browser.get("/submit").text
    data = {"csrf_token": csrf_of(page), "form_key": hidden(page, "form_key"), **FORM}
    first = browser.post("/submit", data=data, follow_redirects=False)
    second = browser.post("/submit", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(complaints(db)) == 1
    # A freshly loaded form has a new key, so a second complaint is possible on purpose.
    assert submit(browser).status_code == 303
    assert len(complaints(db)) == 2


def test_an_invalid_form_names_the_problem_and_keeps_what_was_typed(browser, db):
    response = submit(browser, phone="", email="", content="快递三天没动\n仍在中转站")
    assert response.status_code == 422
    assert "请至少填写手机号或邮箱" in response.text
    assert 'value="李先生"' in response.text
    assert "快递三天没动\n仍在中转站</textarea>" in response.text
    bad_phone = submit(browser, phone="call me")
    assert bad_phone.status_code == 422 and "手机号：格式不正确" in bad_phone.text
    assert complaints(db) == []


def test_html_in_complaint_text_is_shown_as_text(browser, signed_in, db):
    attack = "<script>alert('x')</script>门把手<b>坏了</b>"
    response = submit(browser, content=attack, name="<img src=x onerror=alert(1)>")
    tracking = browser.get(response.headers["location"]).text
    [complaint] = complaints(db)
    client = signed_in()
    for page in (
        tracking,
        client.get(f"/complaints/{complaint.number}").text,
        client.get("/?tab=team").text,
    ):
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in tracking
    csp = browser.get("/submit").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp


def _to_confirming(db, clock, complaint: Complaint, staff) -> None:
    actor = Actor.of(staff)
    with db.session() as session:
        c = session.get(Complaint, complaint.id)
        lifecycle.transition(session, clock, actor, c, "investigating", None, {})
        lifecycle.transition(
            session, clock, actor, c, "proposing", None, {"findings": "电机驱动板虚焊"}
        )
        lifecycle.transition(
            session,
            clock,
            actor,
            c,
            "confirming",
            None,
            {"solution": "免费更换驱动板，并赠送 50 元优惠券"},
        )


def test_tracking_page_shows_only_public_events_and_no_staff_names(
    browser, db, clock, make_complaint, make_user
):
    complaint = make_complaint()
    staff, _ = make_user("zhang.agent")
    with db.session() as session:
        c = session.get(Complaint, complaint.id)
        service.add_note(session, clock, Actor.of(staff), c, "内部：此客户曾多次索赔", False)
        service.add_note(session, clock, Actor.of(staff), c, "您好，我们已联系仓库核实", True)
    page = browser.get(f"/t/{complaint.tracking_token}")
    assert page.status_code == 200
    assert "您好，我们已联系仓库核实" in page.text
    assert "此客户曾多次索赔" not in page.text
    assert "zhang.agent" not in page.text
    assert "13800138000" not in page.text


def test_customer_accepts_the_solution(browser, db, clock, make_complaint, make_user):
    complaint = make_complaint()
    _to_confirming(db, clock, complaint, make_user("agent1")[0])
    url = f"/t/{complaint.tracking_token}"
    page = browser.get(url).text
    assert "免费更换驱动板" in page and "待您确认方案" in page
    response = post_form(browser, url, f"{url}/respond", {"decision": "accept", "comment": ""})
    assert response.status_code == 200 and "感谢确认" in response.text
    [saved] = complaints(db)
    assert saved.stage == "rectifying"


def test_customer_rejects_with_a_reason_and_it_goes_back(
    browser, db, clock, make_complaint, make_user
):
    complaint = make_complaint()
    _to_confirming(db, clock, complaint, make_user("agent1")[0])
    url = f"/t/{complaint.tracking_token}"
    refused = post_form(browser, url, f"{url}/respond", {"decision": "reject", "comment": ""})
    assert refused.status_code == 422 and "请说明不接受方案的原因" in refused.text
    assert complaints(db)[0].stage == "confirming"
    response = post_form(
        browser, url, f"{url}/respond", {"decision": "reject", "comment": "希望直接换新机"}
    )
    assert response.status_code == 200
    assert "客户不接受方案：希望直接换新机" in response.text
    assert complaints(db)[0].stage == "proposing"
    assert "请确认处理方案" not in response.text  # nothing to confirm any more


def test_customer_sends_a_message(browser, db, make_complaint):
    complaint = make_complaint()
    url = f"/t/{complaint.tracking_token}"
    empty = post_form(browser, url, f"{url}/message", {"body": "  "})
    assert empty.status_code == 422 and "请填写留言内容" in empty.text
    sent = post_form(browser, url, f"{url}/message", {"body": "请尽快处理，谢谢"})
    assert sent.status_code == 200 and "请尽快处理，谢谢" in sent.text


def test_unknown_tracking_token_is_a_404_page(browser, db):
    response = browser.get("/t/not-a-real-token")
    assert response.status_code == 404
    assert "没有找到这条投诉" in response.text and "<html" in response.text
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0
