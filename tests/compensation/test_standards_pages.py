"""The pages: /admin/compensation in Chinese and English (matrix, principles, history, the edit
form publishing a new version, a bad row refused), the recommendation card on the complaint
page from 方案制定 on, order_value in the desk entry form and the complaint page."""

from __future__ import annotations

import re
from typing import Any

from kesu.complaints.models import Complaint
from tests.compensation.std_helpers import complaint, set_stage, version_count
from tests.web import conftest as web
from tests.web.conftest import csrf_of, hidden

browser, signed_in = web.browser, web.signed_in  # the page fixtures

PAGE = "/admin/compensation"


def _form_of(html: str) -> dict[str, Any]:
    """The edit form's current values, as a browser would submit them unchanged."""
    form = html[html.index('action="/admin/compensation"') :]
    data: dict[str, Any] = {"csrf_token": csrf_of(html)}
    inputs = re.findall(r'<input(?![^>]*checkbox)[^>]*name="([^"]+)" value="([^"]*)"', form)
    for name, value in inputs:
        if name != "csrf_token":
            data[name] = value.replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
    for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', form):
        data[name] = value.replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
    for name, value in re.findall(r'name="(methods_\d+)" value="(\w+)" checked', form):
        data.setdefault(name, []).append(value)
    for name, options in re.findall(r'<select[^>]*name="(kind_\d+)">(.*?)</select>', form, re.S):
        data[name] = re.search(r'value="(\w+)" selected', options).group(1)  # type: ignore[union-attr]
    return data


def test_the_admin_page_in_chinese_and_english(signed_in: Any) -> None:
    client = signed_in("admin1", "admin", None)
    zh = client.get(PAGE)
    assert zh.status_code == 200
    for text in (
        "赔付标准",
        "公平",
        "合理",
        "及时",
        "透明",
        "产品质量问题：全额退款或换货",
        "第 1 版",
    ):
        assert text in zh.text
    assert "订单金额的 100%" in zh.text and "退款或换货（客户可选）" in zh.text
    assert 'href="/admin/compensation" class="on"' in zh.text  # the admin nav entry
    client.get("/lang/en")
    en = client.get(PAGE).text
    for text in (
        "Compensation standards",
        "Fairness",
        "Transparency",
        "Product defect: full refund",
    ):
        assert text in en
    assert "100% of the order value" in en and "Logistics / Late delivery" in en


def test_publish_a_new_version_from_the_form(db: Any, signed_in: Any) -> None:
    client = signed_in("admin1", "admin", None)
    html = client.get(PAGE).text
    data = _form_of(html)
    assert data["base_version"] == "1"
    data["amount_0"], data["kind_0"], data["cap_0"] = "", "case_by_case", "6000"
    data["name_13"], data["methods_13"] = "新增：积分补偿", ["points"]
    data["kind_13"], data["amount_13"], data["order_13"] = "fixed", "8", "0"
    data["note"] = "测试发布"
    done = client.post(PAGE, data=data, follow_redirects=True)
    assert done.status_code == 200 and "已发布第 2 版赔付标准" in done.text
    assert version_count(db) == 2
    assert "最高 6,000.00" not in done.text and "最高 6000.00 元" in done.text
    rows = re.findall(r'<td class="num">(\d+)</td><td>([^<]+)</td>', done.text)
    assert rows[0] == ("1", "新增：积分补偿")  # order 0 puts it first
    old = client.get(PAGE + "?version=1").text
    assert "最高 5000.00 元" in old and "新增：积分补偿" not in old.split('id="edit"')[0]


def test_a_bad_row_or_a_stale_form_writes_nothing(db: Any, signed_in: Any) -> None:
    client = signed_in("admin1", "admin", None)
    data = _form_of(client.get(PAGE).text)
    bad = {**data, "kind_2": "percent", "percent_2": "120", "amount_2": ""}
    refused = client.post(PAGE, data=bad)
    assert refused.status_code == 422
    assert "第 3 行" in refused.text and "百分比需大于 0 且不超过 100" in refused.text
    assert 'value="120"' in refused.text  # the admin's input is kept
    broken = client.post(PAGE, data={**data, "conditions_1": "{oops"})
    assert broken.status_code == 422 and "条件不是有效的 JSON" in broken.text
    assert version_count(db) == 1
    assert client.post(PAGE, data=data, follow_redirects=False).status_code == 303
    stale = client.post(PAGE, data=data)  # the same form again: base_version 1 is old now
    assert stale.status_code == 409 and "第 2 版" in stale.text
    assert version_count(db) == 2
    client.get("/lang/en")
    english = client.post(PAGE, data={**data, "base_version": "2", "methods_0": ["gold"]})
    assert english.status_code == 422 and "Row 1" in english.text
    assert "Unknown compensation method gold" in english.text


def test_only_admins_see_the_page(signed_in: Any) -> None:
    client = signed_in("lead1", "team_lead", "service")
    assert client.get(PAGE).status_code == 403


def test_the_card_shows_from_proposing_on(db: Any, clock: Any, signed_in: Any) -> None:
    client = signed_in("admin1", "admin", None)
    cid = complaint(db, clock, category="物流服务/配送延误/超时未送达", order_value="300")
    with db.session() as session:
        number = session.get(Complaint, cid).number
    page = client.get(f"/complaints/{number}").text
    assert "compensation-recommendation" not in page
    assert "300.00 元" in page  # the order value on the complaint page
    set_stage(db, cid, "proposing")
    page = client.get(f"/complaints/{number}").text
    card = page[page.index('id="compensation-recommendation"') :][:3000]
    assert "赔付建议" in card and "物流延误：现金补偿" in card and "15.00 元" in card
    assert "第 1 版赔付标准" in card
    set_stage(db, cid, "rating")
    assert 'id="compensation-recommendation"' in client.get(f"/complaints/{number}").text
    client.get("/lang/en")
    english = client.get(f"/complaints/{number}").text
    card = english[english.index('id="compensation-recommendation"') :][:3000]
    assert "Recommended compensation" in card and "15.00 yuan" in card


def test_order_value_in_the_desk_entry_form(db: Any, signed_in: Any) -> None:
    client = signed_in("agent1", "agent", "service")
    html = client.get("/complaints/new").text
    assert 'name="order_value"' in html
    base = {
        "csrf_token": csrf_of(html),
        "form_key": hidden(html, "form_key"),
        "channel": "phone",
        "name": "张先生",
        "phone": "13800002222",
        "content": "快递延误了五天",
    }
    refused = client.post("/complaints/new", data={**base, "order_value": "12.345"})
    assert refused.status_code == 422 and "订单金额" in refused.text
    done = client.post("/complaints/new", data={**base, "order_value": "129.9"})
    assert done.status_code in (200, 303), done.text
    with db.session() as session:
        from decimal import Decimal

        made = session.query(Complaint).one()
        assert made.order_value == Decimal("129.90")
