"""The agent workbench: queues, filters, deadlines, keyset pagination."""

from __future__ import annotations

import re

from kesu.accounts.service import Actor
from kesu.complaints import registration
from kesu.complaints.schemas import ComplaintCreate
from tests.web.conftest import post_form


def numbers(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'class="num" href="/complaints/(TS[0-9-]+)"', html)))


def test_team_queue_lists_a_new_complaint_with_the_phone_masked(signed_in, make_complaint):
    complaint = make_complaint()
    page = signed_in().get("/?tab=team")
    assert page.status_code == 200
    assert numbers(page.text) == [complaint.number]
    assert "王女士" in page.text and "138****8000" in page.text
    assert "13800138000" not in page.text
    assert "受理登记" in page.text and "待分配" in page.text


def test_my_work_lists_what_i_claimed(signed_in, make_complaint):
    mine, other = make_complaint(), make_complaint("另一位客户也有问题要反映", order_no="SO-2")
    client = signed_in()
    assert numbers(client.get("/").text) == []
    response = post_form(
        client,
        f"/complaints/{mine.number}",
        f"/complaints/{mine.number}/claim",
        {"version": str(mine.version)},
    )
    assert "已领取" in response.text
    assert numbers(client.get("/?tab=mine").text) == [mine.number]
    assert set(numbers(client.get("/?tab=team").text)) == {mine.number, other.number}
    assert numbers(client.get("/?tab=team&unassigned=1").text) == [other.number]


def test_the_deadline_counts_down_and_then_shows_overdue(signed_in, make_complaint, clock):
    complaint = make_complaint()
    client = signed_in()
    assert "剩余 1小时0分" in client.get("/?tab=team").text
    clock.advance(minutes=95)
    page = client.get("/?tab=team").text
    assert "已超时 35分钟" in page and 'class="due overdue"' in page
    assert numbers(client.get("/?tab=team&overdue=1").text) == [complaint.number]


def test_filters_and_search(signed_in, make_complaint):
    phone = make_complaint("电话一直打不通", channel="phone", severity="serious")
    web = make_complaint("耳机左耳没声音", order_no="SO-888")
    client = signed_in()
    assert numbers(client.get("/?tab=team&channel=phone").text) == [phone.number]
    assert numbers(client.get("/?tab=team&severity=serious").text) == [phone.number]
    assert numbers(client.get("/?tab=team&q=耳机").text) == [web.number]
    assert numbers(client.get("/?tab=team&q=SO-888").text) == [web.number]
    assert numbers(client.get(f"/?tab=team&q={phone.number}").text) == [phone.number]
    assert numbers(client.get("/?tab=team&stage=investigating").text) == []


def test_pages_follow_the_cursor(signed_in, db, clock):
    with db.session() as session:
        for i in range(53):
            registration.create_complaint(
                session,
                clock,
                Actor("customer", None, "客户"),
                ComplaintCreate.model_validate(
                    {
                        "channel": "web",
                        "content": f"第 {i} 条投诉",
                        "customer": {"name": "客户", "phone": "13700000000"},
                    }
                ),
            )
    client = signed_in()
    first = client.get("/?tab=team").text
    assert len(numbers(first)) == 50
    link = re.search(r'href="(/\?[^"]*cursor=[^"]+)" rel="next"', first)
    assert link, "no next-page link"
    second = client.get(link.group(1).replace("&amp;", "&")).text
    assert len(numbers(second)) == 3
    assert not set(numbers(first)) & set(numbers(second))
    assert 'rel="next"' not in second


def test_a_broken_cursor_is_an_error_message_not_a_crash(signed_in):
    page = signed_in().get("/?tab=team&cursor=%%%garbage")
    assert page.status_code == 200 and "cursor" in page.text


def test_only_roles_that_see_everything_get_the_all_tab(signed_in, make_complaint):
    make_complaint()
    agent = signed_in("agent1")
    assert "tab=all" not in agent.get("/").text
    agent.cookies.clear()
    manager = signed_in("boss", role="manager", team=None)
    page = manager.get("/?tab=all").text
    assert 'href="/?tab=all" class="on"' in page and len(numbers(page)) == 1
