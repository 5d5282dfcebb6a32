"""The structured rule editor (rows of field/op/value, groups, action rows) posts the same rule
as the JSON an expert types; bad rows are a 422 naming the node; the category picker markup;
validation messages in one language."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from kesu.routing.models import RoutingRule
from kesu.taxonomy.models import Category
from tests.web import conftest as web
from tests.web.conftest import csrf_of

# the page fixtures
browser = web.browser
fresh_configuration_cache = web.fresh_configuration_cache
make_complaint = web.make_complaint
signed_in = web.signed_in

CONDITIONS = {
    "all": [
        {"field": "category", "op": "under", "value": "PATH"},
        {
            "any": [
                {"field": "tier", "op": "in", "value": ["vip", "key"]},
                {"field": "severity", "op": "gte", "value": "serious"},
            ]
        },
        {"not": {"all": [{"field": "text", "op": "contains_any", "value": ["测试", "演练"]}]}},
        {"field": "same_category_count", "op": "gt", "value": 5, "window_hours": 2},
    ]
}
ACTIONS = [
    {"type": "assign", "team": "finance", "strategy": "least_loaded", "only_if_unassigned": True},
    {"type": "add_tag", "tag": "vip"},
    {"type": "set_priority", "priority": 1, "only_raise": False},
]


def _rows(path: str) -> dict[str, str | list[str]]:
    """What kesu-rules.js posts for CONDITIONS and ACTIONS (numbers in page order)."""
    return {
        "editor": "rows",
        "cg-0-match": "all",
        "c-1-group": "0",
        "c-1-field": "category",
        "c-1-op": "under",
        "c-1-value": path,
        "cg-2-match": "any",
        "c-3-group": "2",
        "c-3-field": "tier",
        "c-3-op": "in",
        "c-3-value": ["vip", "key"],
        "c-4-group": "2",
        "c-4-field": "severity",
        "c-4-op": "gte",
        "c-4-value": "serious",
        "cg-5-match": "all",
        "cg-5-not": "on",
        "c-6-group": "5",
        "c-6-field": "text",
        "c-6-op": "contains_any",
        "c-6-value": "测试, 演练",
        "c-7-group": "0",
        "c-7-field": "same_category_count",
        "c-7-op": "gt",
        "c-7-value": "5",
        "c-7-window": "2",
        "a-8-type": "assign",
        "a-8-team": "finance",
        "a-8-user": "",
        "a-8-strategy": "least_loaded",
        "a-8-skills": "",
        "a-8-only_if_unassigned": "on",
        "a-9-type": "add_tag",
        "a-9-tag": "vip",
        "a-10-type": "set_priority",
        "a-10-priority": "1",
    }


def _level1(db) -> str:
    with db.session(write=False) as session:
        return session.scalars(
            select(Category.path).where(Category.level == 1).order_by(Category.id)
        ).first()


def _rule(db, name: str) -> RoutingRule | None:
    with db.session(write=False) as session:
        return session.scalar(select(RoutingRule).where(RoutingRule.name == name))


def _post(client, data):
    page = client.get("/admin/rules").text
    return client.post("/admin/rules", data={"csrf_token": csrf_of(page), **data})


def test_rows_make_the_same_rule_as_the_json(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    path = _level1(db)
    expected = json.loads(json.dumps(CONDITIONS).replace("PATH", path))
    by_json = _post(
        client,
        {
            "name": "JSON 写的",
            "events": "created",
            "is_active": "on",
            "conditions": json.dumps(expected, ensure_ascii=False),
            "actions": json.dumps(ACTIONS),
        },
    )
    assert by_json.status_code == 200, by_json.text
    by_rows = _post(
        client,
        {
            "name": "表格写的",
            "events": "created",
            "is_active": "on",
            # the hidden JSON textarea may hold anything: the rows win in the rows view
            "conditions": "{stale",
            "actions": "[]",
            **_rows(path),
        },
    )
    assert by_rows.status_code == 200 and "已添加规则「表格写的」" in by_rows.text
    typed, built = _rule(db, "JSON 写的"), _rule(db, "表格写的")
    assert typed is not None and built is not None
    assert built.conditions == typed.conditions
    assert built.actions == typed.actions
    assert built.conditions["all"][1]["any"][0]["value"] == ["vip", "key"]
    assert built.actions[2] == {"type": "set_priority", "priority": 1, "only_raise": False}


def test_no_rows_is_always(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    made = _post(
        client,
        {"name": "总是", "events": "created", "editor": "rows", "cg-0-match": "all"},
    )
    assert made.status_code == 200, made.text
    rule = _rule(db, "总是")
    assert rule is not None and rule.conditions in ({}, {"all": []}) and rule.actions == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"c-7-value": "五"}, "conditions.all[3].value", "必须是数字"),
        ({"c-4-value": "huge"}, "conditions.all[1].any[1].value", "必须是严重程度"),
        ({"c-3-op": "gt"}, "conditions.all[1].any[0].op", "不支持运算"),
        ({"c-7-window": "9999"}, "conditions.all[3].window_hours", "时间窗口"),
        ({"a-8-team": "nope"}, "actions[0].team", "没有这个团队"),
        ({"a-10-priority": "9"}, "actions[2].priority", "不能大于 4"),
        ({"a-9-type": "explode"}, "actions[1].type", "类型只能是"),
    ],
)
def test_a_bad_row_is_a_422_naming_its_node(signed_in, db, change, field, message):
    client = signed_in("admin1", role="admin", team=None)
    rows = {**_rows(_level1(db)), **change}
    bad = _post(client, {"name": "坏的", "events": "created", **rows})
    assert bad.status_code == 422, bad.text
    assert message in bad.text
    assert f'data-error="{field}"' in bad.text
    # the rows come back as the JSON the editor rebuilds them from (nothing typed is lost)
    assert 'data-mode="rows"' in bad.text
    assert "(" not in re.search(r'<div class="error"[^>]*>([^<]*)<', bad.text).group(1)
    assert _rule(db, "坏的") is None


def test_the_page_carries_the_catalog(signed_in):
    client = signed_in("admin1", role="admin", team=None)
    page = client.get("/admin/rules").text
    raw = re.search(r"data-catalog='([^']*)'", page).group(1)
    catalog = json.loads(html.unescape(raw))
    fields = {f["name"]: f for f in catalog["conditions"]["fields"]}
    assert fields["category"]["kind"] == "category" and "under" in fields["category"]["ops"]
    assert [o["value"] for o in fields["severity"]["options"]] == [
        "minor",
        "moderate",
        "serious",
        "critical",
    ]
    assert {"web", "phone"} <= {o["value"] for o in fields["channel"]["options"]}
    assert {o["value"] for o in fields["tier"]["options"]} == {"standard", "vip", "key"}
    assert fields["text"]["kind"] == "text" and "contains_any" in fields["text"]["ops"]
    assert catalog["conditions"]["ops"]["between"]["value"] == "pair"
    assert catalog["conditions"]["ops"]["is_true"]["value"] == "none"
    assert len(catalog["categories"]) > 20 and all("/" in p for p in catalog["categories"][-5:])
    assign = next(a for a in catalog["actions"] if a["type"] == "assign")
    assert {p["name"]: p["kind"] for p in assign["params"]}["team"] == "team"
    assert "finance" in {t["value"] for t in catalog["teams"]}
    assert "/static/kesu-rules.js" in page and "/static/kesu-category.js" in page
    edit_id = re.search(r'href="/admin/rules/(\d+)"', page).group(1)
    assert "data-rule-editor" in client.get(f"/admin/rules/{edit_id}").text


def test_the_category_picker_on_the_entry_form_and_the_complaint_page(signed_in, make_complaint):
    client = signed_in("agent1")
    entry = client.get("/complaints/new").text
    assert re.search(r'<select id="f-category" name="category" data-category-picker', entry)
    assert "/static/kesu-category.js" in entry and re.search(
        r'<option value="\d+" >[^<]+/[^<]+/', entry
    )
    complaint = make_complaint()
    page = client.get(f"/complaints/{complaint.number}").text
    assert re.search(r'<select id="up-cat" name="category" data-category-picker', page)
    assert client.get("/static/kesu-category.js").status_code == 200
    assert client.get("/static/kesu-rules.js").status_code == 200


def test_validation_messages_are_in_one_language(client, admin):
    body = {"name": "x", "conditions": {"all": [{"field": "nope", "op": "eq", "value": 1}]}}
    chinese = client.post("/api/v1/routing/rules", json=body, headers=admin)
    assert chinese.status_code == 422
    assert chinese.json()["field"] == "conditions.all[0].field"
    assert chinese.json()["detail"] == "未知字段 nope"
    english = client.post(
        "/api/v1/routing/rules", json=body, headers={**admin, "Accept-Language": "en"}
    )
    assert english.status_code == 422 and english.json()["field"] == "conditions.all[0].field"
    assert english.json()["detail"] == "Unknown field nope"
    bad_action = client.post(
        "/api/v1/routing/rules",
        json={"name": "x", "actions": [{"type": "escalate", "level": 7}]},
        headers={**admin, "Accept-Language": "en"},
    )
    assert bad_action.status_code == 422 and bad_action.json()["field"] == "actions[0].level"
    assert not re.search(r"[\u4e00-\u9fff]", bad_action.json()["detail"])


def test_the_api_catalog_lists_fields_with_types_and_operators(client, admin):
    english = client.get("/api/v1/routing/catalog", headers={**admin, "Accept-Language": "en"})
    assert english.status_code == 200
    body = english.json()
    fields = {f["name"]: f for f in body["conditions"]["fields"]}
    assert fields["severity"]["kind"] == "severity" and fields["severity"]["label"] == "Severity"
    assert "gte" in fields["severity"]["ops"] and "contains" not in fields["severity"]["ops"]
    assert fields["same_category_count"]["window_hours"] is True
    assert body["conditions"]["ops"]["under"]["label"] == "is under"
    notify = next(a for a in body["action_params"] if a["type"] == "notify")
    assert {p["name"]: p["kind"] for p in notify["params"]} == {
        "to": "list",
        "template": "enum",
        "urgent": "bool",
    }
    assert body["fields"]["category"]["kind"] == "category"  # the older shape stays


def test_the_rules_page_in_english_describes_actions_in_english(signed_in):
    client = signed_in("admin1", role="admin", team=None)
    client.cookies.set("lang", "en")
    page = client.get("/admin/rules").text
    assert "Assign (Team finance)" in page
    assert '{"type"' not in page.split("<tbody>")[1].split("</tbody>")[0]
