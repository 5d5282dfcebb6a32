"""Admin pages for configuration that existed only in the API: SLA policies, business
calendars, notification endpoints, custom form fields, category rename and move."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.sla.models import SlaCalendar, SlaPolicy
from tests.web.conftest import csrf_of, post_form

PAGES = [
    "/admin/sla",
    "/admin/sla/policies/new",
    "/admin/sla/calendars/standard",
    "/admin/endpoints",
    "/admin/form-fields",
    "/admin/categories",
]


def audits(db, action):
    with db.session(write=False) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def policy(db, code):
    with db.session(write=False) as session:
        return session.scalar(select(SlaPolicy).where(SlaPolicy.code == code))


@pytest.fixture
def admin_browser(signed_in):
    return signed_in("admin1", role="admin", team=None)


@pytest.mark.parametrize("path", PAGES)
def test_an_agent_gets_403(signed_in, path):
    assert signed_in("agent1").get(path).status_code == 403


def test_an_agent_cannot_post_to_the_forms(signed_in, db):
    client = signed_in("agent1")
    token = csrf_of(client.get("/").text)
    for action, data in [
        ("/admin/sla/policies", {"code": "x", "name": "x", "t_first_response": "5"}),
        ("/admin/sla/calendars/standard/days", {"day": "2026-12-24", "kind": "holiday"}),
        ("/admin/endpoints", {"code": "x", "name": "x", "kind": "webhook"}),
        ("/admin/form-fields", {"code": "x", "label": "x", "field_type": "text"}),
    ]:
        assert client.post(action, data={"csrf_token": token, **data}).status_code == 403
    assert policy(db, "x") is None


@pytest.mark.parametrize("path", PAGES)
def test_each_page_renders_in_chinese_and_english(admin_browser, path):
    zh = admin_browser.get(path)
    assert zh.status_code == 200 and "时限与日历" in zh.text
    en = admin_browser.get(path, headers={"Accept-Language": "en"})
    assert en.status_code == 200 and "SLA and calendars" in en.text and "时限与日历" not in en.text


# ---- SLA policies ------------------------------------------------------------------------------


POLICY = {
    "code": "gold",
    "name": "金牌客户",
    "name_en": "Gold customers",
    "position": "5",
    "is_active": "1",
    "conditions": '{"all": [{"field": "tier", "op": "in", "value": ["vip"]}]}',
    "t_first_response": "30",
    "u_first_response": "minutes",
    "t_resolution": "2",
    "u_resolution": "hours",
    "t_follow_up": "3",
    "u_follow_up": "working_days",
    "calendar_code": "standard",
    "notify_calendar_code": "standard",
    "warn_percent": "70",
    "level2": "150",
    "level3": "200",
}


def test_admin_creates_and_edits_a_policy(admin_browser, db):
    made = post_form(admin_browser, "/admin/sla/policies/new", "/admin/sla/policies", POLICY)
    assert made.status_code == 200 and "已创建时限策略「金牌客户」" in made.text
    row = policy(db, "gold")
    assert row.targets == {
        "first_response": {"minutes": 30},
        "resolution": {"minutes": 120},
        "follow_up": {"working_days": 3},
    }
    assert row.conditions["all"][0]["field"] == "tier" and row.warn_percent == 70
    assert audits(db, "sla_policy.create")
    # the page shows when each target ends for a complaint arriving now (Mon 10:00 Beijing)
    assert "2026-11-23 10:30" in made.text and "2026-11-26 18:00" in made.text

    page = f"/admin/sla/policies/{row.id}"
    edit = {**POLICY, "version": str(row.version), "t_first_response": "45", "level3": "300"}
    saved = post_form(admin_browser, page, page, edit)
    assert "已保存时限策略" in saved.text
    row = policy(db, "gold")
    assert row.targets["first_response"] == {"minutes": 45} and row.level_percents == [150, 300]
    assert row.version == 2
    (audit,) = audits(db, "sla_policy.update")
    assert audit.changes["level_percents"] == [[150, 200], [150, 300]]

    off = post_form(
        admin_browser,
        "/admin/sla",
        f"/admin/sla/policies/{row.id}/active",
        {"version": "2", "active": "0"},
    )
    assert "已停用时限策略" in off.text and policy(db, "gold").is_active is False


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"t_first_response": "abc"}, "t_first_response", "首次响应"),
        ({"warn_percent": "100"}, "warn_percent", "预警百分比"),
        ({"conditions": '{"all": ['}, "conditions", "JSON"),
        ({"conditions": '{"all": [{"field": "nope", "op": "eq", "value": 1}]}'}, "conditions", ""),
        ({"level2": "300", "level3": "200"}, "level_percents", "升级百分比"),
        ({"calendar_code": "nowhere"}, "calendar_code", "nowhere"),
        ({"name": ""}, "name", "名称"),
        ({"code": ""}, "code", "策略代码"),
        (
            {"t_first_response": "", "t_resolution": "", "t_follow_up": ""},
            "t_first_response",
            "时限目标",
        ),
    ],
)
def test_bad_policy_input_is_shown_with_the_values_kept(admin_browser, db, change, field, message):
    response = post_form(
        admin_browser, "/admin/sla/policies/new", "/admin/sla/policies", {**POLICY, **change}
    )
    assert 400 <= response.status_code < 500, response.text
    assert message in response.text
    assert 'class="error"' in response.text and "invalid" in response.text
    assert 'value="金牌客户"' in response.text or change.get("name") == ""
    assert policy(db, "gold") is None and not audits(db, "sla_policy.create")


def test_the_policy_form_takes_the_structured_condition_rows(admin_browser, db):
    page = admin_browser.get("/admin/sla/policies/new").text
    assert "data-rule-editor" in page and "kesu-rules.js" in page
    rows = {
        "editor": "rows",
        "cg-0-match": "all",
        "c-1-group": "0",
        "c-1-field": "severity",
        "c-1-op": "gte",
        "c-1-value": "serious",
    }
    made = post_form(
        admin_browser, "/admin/sla/policies/new", "/admin/sla/policies", {**POLICY, **rows}
    )
    assert made.status_code == 200, made.text
    assert policy(db, "gold").conditions == {
        "all": [{"field": "severity", "op": "gte", "value": "serious"}]
    }
    bad = {**rows, "c-1-field": "nope"}
    again = post_form(
        admin_browser,
        "/admin/sla/policies/new",
        "/admin/sla/policies",
        {**POLICY, **bad, "code": "gold2"},
    )
    assert again.status_code == 422 and policy(db, "gold2") is None
    assert 'data-mode="rows"' in again.text


def test_a_stale_policy_form_is_refused(admin_browser, db):
    post_form(admin_browser, "/admin/sla/policies/new", "/admin/sla/policies", POLICY)
    row = policy(db, "gold")
    page = f"/admin/sla/policies/{row.id}"
    post_form(admin_browser, page, page, {**POLICY, "version": "1", "name": "一"})
    stale = post_form(admin_browser, page, page, {**POLICY, "version": "1", "name": "二"})
    assert stale.status_code == 409 and "已被他人修改" in stale.text
    assert policy(db, "gold").name == "一"


# ---- calendars ---------------------------------------------------------------------------------


def test_calendar_page_shows_hours_statutory_days_and_the_effect(admin_browser):
    page = admin_browser.get("/admin/sla/calendars/standard").text
    assert "Asia/Shanghai" in page and "09:00–18:00" in page
    assert "2026 年法定节假日与调休" in page and "春节" in page and "调休上班" in page
    # 48 business hours from Monday 2026-11-23 10:00 on 9:00–18:00 weekdays
    assert "2026-11-30 13:00" in page
    english = admin_browser.get(
        "/admin/sla/calendars/standard", headers={"Accept-Language": "en"}
    ).text
    assert "Spring Festival" in english


def test_admin_adds_and_removes_an_extra_holiday(admin_browser, db):
    page = "/admin/sla/calendars/standard"
    added = post_form(
        admin_browser,
        page,
        f"{page}/days",
        {"day": "2026-11-24", "kind": "holiday", "note": "公司年会"},
    )
    assert added.status_code == 200 and "已将 2026-11-24 设为节假日" in added.text
    assert "公司年会" in added.text
    # Tuesday is now closed: the 48-hour example moves by one working day
    assert "2026-12-01 13:00" in added.text
    with db.session(write=False) as session:
        row = session.scalar(select(SlaCalendar).where(SlaCalendar.code == "standard"))
        assert "2026-11-24" in row.config["holidays"]
        assert row.day_notes == {"2026-11-24": "公司年会"}
    (audit,) = audits(db, "sla_calendar.day_add")
    assert audit.changes == {"day": "2026-11-24", "kind": "holiday", "note": "公司年会"}

    removed = post_form(admin_browser, page, f"{page}/days/remove", {"day": "2026-11-24"})
    assert "已移除 2026-11-24 的额外设置" in removed.text and "2026-11-30 13:00" in removed.text
    with db.session(write=False) as session:
        row = session.scalar(select(SlaCalendar).where(SlaCalendar.code == "standard"))
        assert "2026-11-24" not in row.config.get("holidays", []) and row.day_notes == {}
    assert audits(db, "sla_calendar.day_remove")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"day": "24/12/2026", "kind": "holiday"}, "day"),
        ({"day": "0001-01-01", "kind": "holiday"}, "day"),
        ({"day": "2026-12-24", "kind": "someday"}, "kind"),
        ({"day": "2026-12-24", "kind": "holiday", "note": "长" * 201}, "note"),
    ],
)
def test_bad_calendar_days_are_refused(admin_browser, db, data, field):
    page = "/admin/sla/calendars/standard"
    response = post_form(admin_browser, page, f"{page}/days", data)
    assert response.status_code == 422 and 'class="error"' in response.text
    assert f'id="f-{field}"' in response.text
    assert not audits(db, "sla_calendar.day_add")
    with db.session(write=False) as session:
        row = session.scalar(select(SlaCalendar).where(SlaCalendar.code == "standard"))
        assert not row.config.get("holidays") and row.day_notes == {}


# ---- notification endpoints ----------------------------------------------------------------


ROBOT = {
    "code": "ops_robot",
    "name": "运维群机器人",
    "kind": "dingtalk",
    "locale": "zh_CN",
    "is_active": "1",
    "config": '{"url": "https://oapi.dingtalk.com/robot/send?access_token=tok-123", '
    '"secret": "SEC-very-secret"}',
    "events": "sla_breach",
}


def endpoint(db, code):
    from kesu.notify.models import NotifyEndpoint

    with db.session(write=False) as session:
        return session.scalar(select(NotifyEndpoint).where(NotifyEndpoint.code == code))


def test_admin_creates_edits_tests_and_deletes_an_endpoint(admin_browser, db):
    from kesu.notify.models import OutboxMessage

    made = post_form(admin_browser, "/admin/endpoints", "/admin/endpoints", ROBOT)
    assert made.status_code == 200 and "已添加通知渠道「运维群机器人」" in made.text
    row = endpoint(db, "ops_robot")
    assert row.config["secret"] == "SEC-very-secret" and row.events == ["sla_breach"]
    # secrets are never shown again: the edit page masks them
    assert "SEC-very-secret" not in made.text and "tok-123" not in made.text
    assert "***" in made.text
    assert audits(db, "notify_endpoint.save")

    page = f"/admin/endpoints/{row.id}"
    html = admin_browser.get(page).text
    masked = html.split('name="config"')[1].split(">", 1)[1].split("</textarea>")[0]
    import html as html_lib

    edit = {**ROBOT, "name": "运维群", "config": html_lib.unescape(masked), "locale": "en"}
    saved = post_form(admin_browser, page, page, edit)
    assert "已保存通知渠道「运维群」" in saved.text
    row = endpoint(db, "ops_robot")
    assert row.name == "运维群" and row.locale == "en"
    assert row.config["secret"] == "SEC-very-secret"  # the masked value kept the stored one
    assert row.config["url"].endswith("access_token=tok-123")

    tested = post_form(admin_browser, page, f"{page}/test", {})
    assert "测试消息已排队" in tested.text
    with db.session(write=False) as session:
        (queued,) = session.scalars(select(OutboxMessage)).all()
        assert queued.endpoint_id == row.id and queued.status == "pending"
        assert queued.channel == "dingtalk" and queued.title == "kesu test notification"
    assert audits(db, "notify_endpoint.test")

    off = post_form(admin_browser, "/admin/endpoints", f"{page}/active", {"active": "0"})
    assert "已停用通知渠道" in off.text and endpoint(db, "ops_robot").is_active is False
    gone = post_form(admin_browser, "/admin/endpoints", f"{page}/delete", {})
    assert "已删除通知渠道「运维群」" in gone.text and endpoint(db, "ops_robot") is None
    assert audits(db, "notify_endpoint.delete")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "Bad Code!"}, "code"),
        ({"name": ""}, "name"),
        ({"kind": "pigeon"}, "kind"),
        ({"config": "{not json"}, "config"),
        ({"config": "[1, 2]"}, "config"),
        ({"events": "no_such_event"}, "events"),
    ],
)
def test_bad_endpoint_input_is_refused_with_the_values_kept(admin_browser, db, change, field):
    response = post_form(admin_browser, "/admin/endpoints", "/admin/endpoints", {**ROBOT, **change})
    assert 400 <= response.status_code < 500 and 'class="error"' in response.text
    assert f'class="invalid"><label for="f-{field}"' in response.text.replace("\n", "") or (
        field == "events" and "no_such_event" in response.text
    )
    assert endpoint(db, ROBOT["code"]) is None and not audits(db, "notify_endpoint.save")


def test_a_webhook_to_a_private_address_is_refused_by_the_target_policy(admin_browser, db):
    hook = {**ROBOT, "kind": "webhook", "config": '{"url": "http://10.1.2.3:8080/hook"}'}
    response = post_form(admin_browser, "/admin/endpoints", "/admin/endpoints", hook)
    assert response.status_code == 422 and "10.1.2.3" in response.text
    assert 'class="invalid"><label for="f-config"' in response.text.replace("\n", "")
    assert 'value="运维群机器人"' in response.text
    assert endpoint(db, ROBOT["code"]) is None


def test_an_sms_test_needs_a_phone_number(admin_browser, db):
    sms = {
        **ROBOT,
        "code": "gateway",
        "kind": "sms",
        "config": '{"url": "https://sms.example/send"}',
    }
    post_form(admin_browser, "/admin/endpoints", "/admin/endpoints", sms)
    row = endpoint(db, "gateway")
    refused = post_form(
        admin_browser, f"/admin/endpoints/{row.id}", f"/admin/endpoints/{row.id}/test", {}
    )
    assert refused.status_code == 422 and "手机号码" in refused.text
    assert not audits(db, "notify_endpoint.test")


# ---- custom form fields --------------------------------------------------------------------


FIELD = {
    "code": "channel_shop",
    "label": "购买渠道",
    "label_en": "Where bought",
    "field_type": "select",
    "options": "天猫\n京东\n线下门店",
    "sort": "5",
    "public": "1",
    "is_active": "1",
}


def form_field(db, code):
    from kesu.taxonomy.models import FormField

    with db.session(write=False) as session:
        return session.scalar(select(FormField).where(FormField.code == code))


def test_admin_adds_a_field_and_every_form_shows_it(admin_browser, browser, db, make_complaint):
    made = post_form(admin_browser, "/admin/form-fields", "/admin/form-fields", FIELD)
    assert made.status_code == 200 and "已添加表单字段「购买渠道」" in made.text
    row = form_field(db, "channel_shop")
    assert row.options == ["天猫", "京东", "线下门店"] and row.field_type == "select"
    assert audits(db, "form_field.create")
    # the agent's entry form and the public form render it; English shows the English label
    entry = admin_browser.get("/complaints/new").text
    assert 'name="cf_channel_shop"' in entry and "线下门店" in entry
    assert (
        "Where bought"
        in admin_browser.get("/complaints/new", headers={"Accept-Language": "en"}).text
    )
    assert 'name="cf_channel_shop"' in admin_browser.get("/submit").text
    # the complaint page shows the value under the field's label
    complaint = make_complaint(custom_fields={"channel_shop": "京东"})
    detail = admin_browser.get(f"/complaints/{complaint.number}").text
    assert "购买渠道" in detail and "京东" in detail

    page = f"/admin/form-fields/{row.id}"
    edit = {**FIELD, "public": "", "label": "购买平台"}
    saved = post_form(admin_browser, page, page, edit)
    assert "已保存表单字段「购买平台」" in saved.text
    assert form_field(db, "channel_shop").public is False
    (audit,) = audits(db, "form_field.update")
    assert audit.changes["label"] == ["购买渠道", "购买平台"]
    assert 'name="cf_channel_shop"' not in admin_browser.get("/submit").text
    assert 'name="cf_channel_shop"' in admin_browser.get("/complaints/new").text

    off = post_form(admin_browser, "/admin/form-fields", f"{page}/active", {"active": "0"})
    assert "已停用表单字段" in off.text
    assert 'name="cf_channel_shop"' not in admin_browser.get("/complaints/new").text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "1bad"}, "code"),
        ({"code": "purchase_date"}, "code"),
        ({"label": ""}, "label"),
        ({"field_type": "colour"}, "field_type"),
        ({"options": ""}, "options"),
        ({"options": "a\na"}, "options"),
        ({"sort": "-1"}, "sort"),
        ({"required": "1", "public": ""}, "required"),
    ],
)
def test_bad_form_field_input_is_refused(admin_browser, db, change, field):
    response = post_form(
        admin_browser, "/admin/form-fields", "/admin/form-fields", {**FIELD, **change}
    )
    assert 400 <= response.status_code < 500 and 'class="error"' in response.text
    assert re.search(rf'class="invalid">\s*<label[^>]*for="f-{field}"', response.text)
    assert 'value="Where bought"' in response.text
    assert form_field(db, "channel_shop") is None and not audits(db, "form_field.create")


# ---- categories: rename and move -----------------------------------------------------------


def category(db, path):
    from kesu.taxonomy.models import Category

    with db.session(write=False) as session:
        return session.scalar(select(Category).where(Category.path == path))


def test_admin_renames_and_moves_a_category_and_complaints_stay(admin_browser, db, make_complaint):
    from kesu.complaints.models import Complaint

    leaf = category(db, "产品质量/包装破损/外箱压坏")
    assert leaf is not None
    complaint = make_complaint(category=leaf.path)
    mid = category(db, "产品质量/包装破损")
    renamed = post_form(
        admin_browser,
        "/admin/categories",
        f"/admin/categories/{mid.id}",
        {"name": "包装问题", "name_en": "Packaging", "parent_id": str(mid.parent_id)},
    )
    assert renamed.status_code == 200 and "已保存分类 产品质量/包装问题" in renamed.text
    assert category(db, "产品质量/包装问题/外箱压坏").id == leaf.id  # the subtree follows
    (audit,) = audits(db, "category.update")
    assert audit.changes["path"] == ["产品质量/包装破损", "产品质量/包装问题"]

    other = category(db, "物流服务")
    moved = post_form(
        admin_browser,
        "/admin/categories",
        f"/admin/categories/{mid.id}",
        {"name": "包装问题", "name_en": "Packaging", "parent_id": str(other.id)},
    )
    assert "已保存分类 物流服务/包装问题" in moved.text
    moved_leaf = category(db, "物流服务/包装问题/外箱压坏")
    assert moved_leaf.id == leaf.id and moved_leaf.level == 3
    with db.session(write=False) as session:
        assert session.get(Complaint, complaint.id).category.path == "物流服务/包装问题/外箱压坏"


@pytest.mark.parametrize("case", ["too_deep", "under_itself", "slash", "taken", "bad_id"])
def test_a_bad_category_move_is_refused_and_nothing_changes(admin_browser, db, case):
    mid = category(db, "产品质量/包装破损")
    leaf = category(db, "产品质量/包装破损/外箱压坏")
    data = {
        "too_deep": {"name": mid.name, "parent_id": str(category(db, "物流服务/配送延误").id)},
        "under_itself": {"name": mid.name, "parent_id": str(leaf.id)},
        "slash": {"name": "a/b", "parent_id": str(mid.parent_id)},
        "taken": {"name": "功能故障", "parent_id": str(mid.parent_id)},
        "bad_id": {"name": mid.name, "parent_id": "²"},
    }[case]
    response = post_form(admin_browser, "/admin/categories", f"/admin/categories/{mid.id}", data)
    assert 400 <= response.status_code < 500 and 'class="error"' in response.text
    assert category(db, "产品质量/包装破损/外箱压坏").id == leaf.id
    assert not audits(db, "category.update")


def test_renaming_a_category_names_the_rules_that_still_use_its_old_path(admin_browser, db):
    mid = category(db, "产品质量/功能故障")
    response = post_form(
        admin_browser,
        "/admin/categories",
        f"/admin/categories/{mid.id}",
        {"name": "功能问题", "name_en": "Malfunction", "parent_id": str(mid.parent_id)},
    )
    assert "已保存分类 产品质量/功能问题" in response.text
    assert "仍使用旧路径「产品质量/功能故障」" in response.text and "分配规则「" in response.text


# ---- messages in one language ------------------------------------------------------------


def test_policy_and_category_errors_are_in_the_callers_language_only(client, admin):
    body = {"code": "x", "name": "x", "targets": {"lunch": {"minutes": 5}}}
    zh = client.post("/api/v1/sla/policies", json=body, headers=admin).json()
    en = client.post(
        "/api/v1/sla/policies", json=body, headers={**admin, "Accept-Language": "en"}
    ).json()
    assert zh["field"] == en["field"] == "targets.lunch"
    assert zh["detail"].startswith("未知的时限节点 lunch") and "milestones" not in zh["detail"]
    assert en["detail"].startswith("Unknown milestone lunch") and "时限" not in en["detail"]

    bad = {"name": "a/b"}
    zh = client.post("/api/v1/categories", json=bad, headers=admin).json()
    en = client.post("/api/v1/categories", json=bad, headers={**admin, "Accept-Language": "en"})
    assert "invalid" not in zh["detail"] and "/" in zh["detail"]
    assert en.json()["detail"].startswith("A category name") and en.json()["field"] == "name"
