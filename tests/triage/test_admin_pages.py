"""The triage admin pages (models and try-it, keyword rules, lexicons) and the 智能分诊 panel
of the complaint page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from kesu.complaints.models import Complaint
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.models import Category
from kesu.triage import lexicons, registry
from kesu.triage.models import Correction, KeywordRule, LexiconEntry
from tests.web import conftest as web
from tests.web.conftest import post_form

# The page fixtures of tests/web, used here too.
browser = web.browser
signed_in = web.signed_in
make_complaint = web.make_complaint

PAGES = ["/admin/triage", "/admin/triage/rules", "/admin/triage/lexicons"]
CATEGORY = "产品质量/功能故障/无法开机"


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    lexicons.clear_cache()
    registry.clear_cache()
    yield
    config_cache.clear()
    lexicons.clear_cache()
    registry.clear_cache()


def _category_id(db, path: str) -> int:
    with db.session(write=False) as session:
        found = session.scalar(select(Category.id).where(Category.path == path))
        assert found is not None
        return int(found)


@pytest.mark.parametrize("path", PAGES)
def test_only_admins_see_the_pages(signed_in, path):
    response = signed_in("lead1", role="team_lead").get(path)
    assert response.status_code == 403


def test_the_pages_render_and_are_linked(signed_in):
    client = signed_in("admin1", role="admin", team=None)
    assert 'href="/admin/triage"' in client.get("/admin/users").text
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    overview = client.get("/admin/triage").text
    assert "立即训练" in overview and "还没有训练过模型" in overview
    client.get("/lang/en")
    english = client.get("/admin/triage").text
    assert "Train now" in english and "立即训练" not in english


def test_try_it_shows_the_analysis(signed_in):
    client = signed_in("admin1", role="admin", team=None)
    text = "会员费被重复扣费了！！气死了，客服一直不回复，再不处理我就去12315投诉 <b>x</b>"
    page = post_form(client, "/admin/triage", "/admin/triage/try", {"text": text})
    assert page.status_code == 200
    html = page.text
    assert "会员费被重复扣费了!!" in html  # the normalised text
    assert "账务/扣费异常/重复扣费" in html and "关键词规则" in html and "90%" in html
    assert "12315" in html and "风险 3 级" in html and "监管部门" in html
    assert re.search(r"<meter[^>]*value=\"0\.\d+\"", html)  # anger and urgency bars
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html  # escaped
    empty = post_form(client, "/admin/triage", "/admin/triage/try", {"text": " "})
    assert "请粘贴一段文字" in empty.text


def test_train_now_with_too_little_data_says_so(signed_in):
    client = signed_in("admin1", role="admin", team=None)
    page = post_form(client, "/admin/triage", "/admin/triage/train", {})
    assert page.status_code == 422 and "训练至少需要两个分类" in page.text


def test_train_now_adds_an_active_version(signed_in, make_complaint):
    paths = ["物流服务/配送延误/超时未送达", "售后支持/维修/维修周期长"]
    for i in range(6):
        make_complaint(f"快递{i + 2}天了还没送到", category=paths[0], order_no=f"A{i}")
        make_complaint(f"送修{i + 2}周了还没修好", category=paths[1], order_no=f"B{i}")
    client = signed_in("admin1", role="admin", team=None)
    page = post_form(client, "/admin/triage", "/admin/triage/train", {})
    assert page.status_code == 200 and "已训练版本 1 并启用" in page.text
    row = re.search(r'<tr class="" id="model-\d+">(.*?)</tr>', page.text, re.S)
    assert row and "v1" in row.group(1) and "使用中" in row.group(1) and "admin1" in row.group(1)


def test_admin_adds_edits_toggles_and_deletes_a_keyword_rule(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    category_id = _category_id(db, CATEGORY)
    bad = post_form(
        client,
        "/admin/triage/rules",
        "/admin/triage/rules",
        {"category": str(category_id), "include": " ", "weight": "0.9", "is_active": "on"},
    )
    assert bad.status_code == 422 and "包含词 至少需要一个词" in bad.text
    too_heavy = post_form(
        client,
        "/admin/triage/rules",
        "/admin/triage/rules",
        {"category": str(category_id), "include": "量子咖啡机", "weight": "2", "note": "新品"},
    )
    assert too_heavy.status_code == 422 and 'value="新品"' in too_heavy.text
    with db.session(write=False) as session:
        before = set(session.scalars(select(KeywordRule.id)))

    added = post_form(
        client,
        "/admin/triage/rules",
        "/admin/triage/rules",
        {
            "category": str(category_id),
            "include": "量子咖啡机，量子壶\n咖啡机 q1",
            "exclude": "咖啡豆",
            "weight": "0.95",
            "is_active": "on",
        },
    )
    assert added.status_code == 200 and "已添加关键词规则" in added.text
    with db.session(write=False) as session:
        rule = session.scalar(select(KeywordRule).where(KeywordRule.id.not_in(before)))
        assert rule is not None
        assert rule.include == ["量子咖啡机", "量子壶", "咖啡机 q1"] and rule.exclude == ["咖啡豆"]
        assert rule.weight == 0.95 and rule.is_active and rule.category_id == category_id
    assert "量子咖啡机、量子壶" in added.text

    edit = client.get(f"/admin/triage/rules/{rule.id}").text
    assert "咖啡机 q1" in edit and f'<option value="{category_id}" selected>' in edit
    saved = post_form(
        client,
        f"/admin/triage/rules/{rule.id}",
        f"/admin/triage/rules/{rule.id}",
        {"category": CATEGORY, "include": "量子咖啡机", "weight": "0.8", "is_active": "on"},
    )
    assert "已保存关键词规则" in saved.text
    post_form(client, "/admin/triage/rules", f"/admin/triage/rules/{rule.id}/toggle", {})
    with db.session(write=False) as session:
        again = session.get(KeywordRule, rule.id)
        assert again is not None
        assert again.include == ["量子咖啡机"] and again.weight == 0.8 and not again.is_active
    deleted = post_form(client, "/admin/triage/rules", f"/admin/triage/rules/{rule.id}/delete", {})
    assert "已删除关键词规则" in deleted.text
    with db.session(write=False) as session:
        assert session.get(KeywordRule, rule.id) is None
    assert client.get(f"/admin/triage/rules/{rule.id}").status_code == 404


def test_admin_adds_and_deletes_lexicon_words(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    risk = client.get("/admin/triage/lexicons?lexicon=risk").text
    assert "12315" in risk and "监管部门" in risk
    assert "不能为空" not in risk
    bad = post_form(
        client,
        "/admin/triage/lexicons?lexicon=risk",
        "/admin/triage/lexicons",
        {"lexicon": "risk", "word": "火星日报", "category": "media", "weight": "7"},
    )
    assert bad.status_code == 422 and "权重须在 1–3 之间" in bad.text
    added = post_form(
        client,
        "/admin/triage/lexicons?lexicon=risk",
        "/admin/triage/lexicons",
        {"lexicon": "risk", "word": "火星日报", "category": "media", "weight": "3"},
    )
    assert added.status_code == 200 and "已添加「火星日报」" in added.text
    user_dict = post_form(
        client,
        "/admin/triage/lexicons?lexicon=user_dict",
        "/admin/triage/lexicons",
        {"lexicon": "user_dict", "word": "酷影星河"},
    )
    assert "酷影星河" in user_dict.text and "火星日报" not in user_dict.text  # filtered
    with db.session(write=False) as session:
        entry = session.scalar(select(LexiconEntry).where(LexiconEntry.word == "火星日报"))
        assert entry is not None and entry.lexicon == "risk" and entry.weight == 3
    post_form(
        client,
        "/admin/triage/lexicons?lexicon=risk",
        f"/admin/triage/lexicons/{entry.id}/delete",
        {"lexicon": "risk"},
    )
    with db.session(write=False) as session:
        assert session.get(LexiconEntry, entry.id) is None
    assert client.get("/admin/triage/lexicons?lexicon=nope").status_code == 422


def test_the_complaint_page_shows_triage_and_applies_a_suggestion(signed_in, make_complaint, db):
    # A rule under the apply threshold (0.8) suggests its category without applying it.
    client = signed_in("admin1", role="admin", team=None)
    category_id = _category_id(db, CATEGORY)
    post_form(
        client,
        "/admin/triage/rules",
        "/admin/triage/rules",
        {"category": str(category_id), "include": "量子咖啡机", "weight": "0.6", "is_active": "on"},
    )
    complaint = make_complaint("我的量子咖啡机又坏了，气死了！！再不修我就找媒体曝光")
    assert complaint.category_id is None  # 0.6 is below the threshold: suggested only
    page = client.get(f"/complaints/{complaint.number}").text
    panel = page[page.index('id="triage"') :]
    assert "智能分诊" in page and "咖啡机" in panel  # a keyword
    assert CATEGORY in panel and "关键词规则" in panel and "60%" in panel
    assert "风险 3 级" in panel and "媒体" in panel and "<meter" in panel
    assert ">采用</button>" in panel

    applied = post_form(
        client,
        f"/complaints/{complaint.number}",
        f"/complaints/{complaint.number}/update",
        {
            "category": str(category_id),
            "version": re.search(r'name="version" value="(\d+)"', panel).group(1),  # type: ignore[union-attr]
            "reason": "采用智能分诊建议",
        },
    )
    assert applied.status_code == 200
    with db.session(write=False) as session:
        found = session.get(Complaint, complaint.id)
        assert found is not None and found.category_id == category_id
        correction = session.scalar(
            select(Correction).where(Correction.complaint_id == complaint.id)
        )
        assert correction is not None
        assert correction.to_category_id == category_id and correction.from_category_id is None
        assert correction.suggested_category_id == category_id
        assert correction.suggested_source == "rule"
    after = client.get(f"/complaints/{complaint.number}").text
    assert ">采用</button>" not in after  # the complaint has a category now
