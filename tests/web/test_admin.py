"""Admin pages: only for admins; users, teams, categories and stages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kesu.accounts.models import User
from kesu.complaints.models import Stage
from kesu.taxonomy.models import Category
from tests.web.conftest import login, post_form

ADMIN_PAGES = ["/admin/users", "/admin/teams", "/admin/categories", "/admin/stages"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_non_admin_gets_403(signed_in, path):
    response = signed_in("lead1", role="team_lead").get(path)
    assert response.status_code == 403
    assert "没有权限" in response.text


def test_a_non_admin_cannot_post_to_admin_forms(signed_in, db):
    client = signed_in("agent1")
    response = post_form(
        client,
        "/",
        "/admin/users",
        {"username": "mallory", "password": "password-123", "role": "admin"},
    )
    assert response.status_code == 403
    with db.session(write=False) as session:
        assert session.scalar(select(User).where(User.username == "mallory")) is None


def test_admin_pages_render_for_an_admin(signed_in):
    client = signed_in("admin1", role="admin", team=None)
    for path in ADMIN_PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
    assert "系统管理" in client.get("/").text


def test_admin_creates_and_deactivates_a_user(signed_in, browser, db):
    client = signed_in("admin1", role="admin", team=None)
    bad = post_form(
        client,
        "/admin/users",
        "/admin/users",
        {
            "username": "wang",
            "password": "short",
            "role": "agent",
            "team": "service",
            "display_name": "王小明",
        },
    )
    assert bad.status_code == 422 and "密码至少 8 位" in bad.text and 'value="王小明"' in bad.text
    made = post_form(
        client,
        "/admin/users",
        "/admin/users",
        {
            "username": "wang",
            "password": "long-enough-1",
            "role": "agent",
            "team": "service",
            "display_name": "王小明",
        },
    )
    assert made.status_code == 200 and "已创建用户 wang" in made.text
    with db.session(write=False) as session:
        wang = session.scalar(select(User).where(User.username == "wang"))
        assert wang is not None and wang.team is not None and wang.team.code == "service"
    response = post_form(client, "/admin/users", f"/admin/users/{wang.id}/deactivate", {})
    assert "已停用用户 wang" in response.text
    client.cookies.clear()
    assert login(browser, "wang", "long-enough-1").status_code == 400


def test_admin_creates_a_team_and_a_category_then_deactivates_it(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    team = post_form(
        client,
        "/admin/teams",
        "/admin/teams",
        {"code": "vip-care", "name": "大客户服务组", "name_en": "VIP care"},
    )
    assert "已创建团队 大客户服务组" in team.text
    duplicate = post_form(
        client, "/admin/teams", "/admin/teams", {"code": "vip-care", "name": "重复", "name_en": ""}
    )
    assert duplicate.status_code == 409
    page = client.get("/admin/categories").text
    parent = re.search(r'id="cat-(\d+)">\s*<strong>物流服务</strong>', page).group(1)
    added = post_form(
        client,
        "/admin/categories",
        "/admin/categories",
        {"name": "冷链破损", "name_en": "Cold chain", "parent_id": parent},
    )
    assert "已添加分类 物流服务/冷链破损" in added.text
    with db.session(write=False) as session:
        new = session.scalar(select(Category).where(Category.path == "物流服务/冷链破损"))
        assert new is not None and new.level == 2
    post_form(client, "/admin/categories", f"/admin/categories/{new.id}/deactivate", {})
    with db.session(write=False) as session:
        assert not session.get(Category, new.id).is_active


def test_admin_edits_a_stage(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    form = {
        "name": "调查核实",
        "name_en": "Investigating",
        "public_name": "正在调查",
        "time_limit_minutes": "720",
        "required_outputs": "findings | 调查结论 | Findings\nevidence | 证据 | Evidence",
    }
    response = post_form(
        client,
        "/admin/stages",
        "/admin/stages/investigating",
        {**form, "allowed_roles": ["agent", "team_lead"]},
    )
    assert response.status_code == 200 and "已保存阶段" in response.text
    with db.session(write=False) as session:
        stage = session.get(Stage, "investigating")
        assert stage.time_limit_minutes == 720 and stage.public_name == "正在调查"
        assert stage.allowed_roles == ["agent", "team_lead"]
        assert [o["code"] for o in stage.required_outputs] == ["findings", "evidence"]
    bad = post_form(
        client,
        "/admin/stages",
        "/admin/stages/investigating",
        {**form, "time_limit_minutes": "soon"},
    )
    assert bad.status_code == 422 and "时限必须是正整数分钟" in bad.text
