"""User administration through the pages: role and team, password reset, re-activation,
profile edits, agents' skills/absence/shift; audited, admins only, bad input a 4xx."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from kesu.accounts.models import AuditLog, User
from kesu.routing.models import AgentProfile
from tests.web import conftest as web
from tests.web.conftest import csrf_of, login, post_form

# the page fixtures
browser = web.browser
fresh_configuration_cache = web.fresh_configuration_cache
make_complaint = web.make_complaint
signed_in = web.signed_in


def _user(db, username: str) -> User:
    with db.session(write=False) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        session.expunge(user)
        return user


def _audit(db, action: str, user_id: int) -> list[AuditLog]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(AuditLog).where(
                    AuditLog.action == action, AuditLog.entity_id == str(user_id)
                )
            )
        )


@pytest.fixture
def admin_browser(signed_in):
    return signed_in("admin1", role="admin", team=None)


def test_role_change_takes_effect_and_is_audited(admin_browser, make_user, app, db):
    from fastapi.testclient import TestClient

    wang, headers = make_user("wang", "agent", "service")
    with TestClient(app) as api:
        assert api.get("/api/v1/routing/rules", headers=headers).status_code == 403
        page = admin_browser.get(f"/admin/users/{wang.id}")
        assert page.status_code == 200 and "角色与团队" in page.text
        done = admin_browser.post(
            f"/admin/users/{wang.id}/role",
            data={"csrf_token": csrf_of(page.text), "role": "admin", "team": "finance"},
        )
        assert done.status_code == 200 and "已修改用户 wang 的角色和团队" in done.text
        # the same token now has the admin's rights: no stale copy of the old role
        assert api.get("/api/v1/routing/rules", headers=headers).status_code == 200
    changed = _user(db, "wang")
    assert changed.role == "admin"
    [row] = _audit(db, "user.role_change", wang.id)
    assert row.changes["role"] == ["agent", "admin"]
    assert row.changes["team"] == ["service", "finance"]
    assert row.actor_label == "admin1"


def test_password_reset_by_the_admin(admin_browser, make_user, app, db, clock):
    from fastapi.testclient import TestClient

    from tests.web.conftest import HTML

    wang, _ = make_user("wang", "agent", "service")
    wangs_browser = TestClient(app, headers=HTML)
    assert login(wangs_browser, "wang").status_code == 303
    assert wangs_browser.get("/", follow_redirects=False).status_code == 200
    page = admin_browser.get(f"/admin/users/{wang.id}").text
    mismatch = admin_browser.post(
        f"/admin/users/{wang.id}/password",
        data={
            "csrf_token": csrf_of(page),
            "mode": "set",
            "password": "new-password-1",
            "password_again": "other-password",
        },
    )
    assert mismatch.status_code == 422 and "两次输入的密码不一致" in mismatch.text
    short = admin_browser.post(
        f"/admin/users/{wang.id}/password",
        data={
            "csrf_token": csrf_of(page),
            "mode": "set",
            "password": "short",
            "password_again": "short",
        },
    )
    assert short.status_code == 422 and 'class="invalid"' in short.text
    done = admin_browser.post(
        f"/admin/users/{wang.id}/password",
        data={
            "csrf_token": csrf_of(page),
            "mode": "set",
            "password": "new-password-1",
            "password_again": "new-password-1",
        },
    )
    assert done.status_code == 200 and "已重设用户 wang 的密码" in done.text
    # whoever was signed in as wang (with the old password) is signed out
    assert wangs_browser.get("/", follow_redirects=False).status_code in (302, 303, 307)
    signed_out = wangs_browser.get("/")  # to the sign-in page, not back and forth
    assert signed_out.status_code == 200 and 'name="password"' in signed_out.text
    with TestClient(app, headers=HTML) as other:
        assert login(other, "wang", "password-123").status_code == 400
        clock.advance(seconds=10)  # past the sign-in throttle's delay
        assert login(other, "wang", "new-password-1").status_code == 303
    rows = _audit(db, "user.password_reset", wang.id)
    assert len(rows) == 1 and rows[0].changes == {"username": "wang", "generated": False}
    assert "new-password-1" not in str(rows[0].changes)

    generated = admin_browser.post(
        f"/admin/users/{wang.id}/password",
        data={"csrf_token": csrf_of(page), "mode": "generate"},
    )
    assert generated.status_code == 200
    assert generated.headers["cache-control"] == "no-store"
    password = re.search(r'id="generated-password"[^>]*value="([^"]+)"', generated.text)
    assert password, generated.text
    with TestClient(app, headers=HTML) as other:
        assert login(other, "wang", "new-password-1").status_code == 400
        clock.advance(seconds=10)
        assert login(other, "wang", password.group(1)).status_code == 303
    # shown once: the user's page does not show it again
    assert password.group(1) not in admin_browser.get(f"/admin/users/{wang.id}").text


def test_reactivate_and_profile_edits(admin_browser, make_user, app, db, clock):
    from fastapi.testclient import TestClient

    from tests.web.conftest import HTML

    wang, _ = make_user("wang", "agent", "service")
    post_form(admin_browser, "/admin/users", f"/admin/users/{wang.id}/deactivate", {})
    with TestClient(app, headers=HTML) as other:
        assert login(other, "wang").status_code == 400
    clock.advance(seconds=10)
    page = admin_browser.get(f"/admin/users/{wang.id}")
    assert "重新启用" in page.text
    back = post_form(
        admin_browser, f"/admin/users/{wang.id}", f"/admin/users/{wang.id}/reactivate", {}
    )
    assert "已重新启用用户 wang" in back.text
    with TestClient(app, headers=HTML) as other:
        assert login(other, "wang").status_code == 303
    assert len(_audit(db, "user.reactivate", wang.id)) == 1

    bad = post_form(
        admin_browser,
        f"/admin/users/{wang.id}",
        f"/admin/users/{wang.id}/profile",
        {"display_name": "王小明", "email": "<not an email>", "phone": ""},
    )
    assert bad.status_code == 422 and "邮箱地址无效" in bad.text and 'value="王小明"' in bad.text
    assert _user(db, "wang").display_name == "wang"
    bad_phone = post_form(
        admin_browser,
        f"/admin/users/{wang.id}",
        f"/admin/users/{wang.id}/profile",
        {"display_name": "王小明", "email": "", "phone": "call me"},
    )
    assert bad_phone.status_code == 422 and "电话号码无效" in bad_phone.text
    ok = post_form(
        admin_browser,
        f"/admin/users/{wang.id}",
        f"/admin/users/{wang.id}/profile",
        {"display_name": "王小明", "email": "Wang@Example.com", "phone": "138 0013 8000"},
    )
    assert ok.status_code == 200 and "已保存用户 wang 的资料" in ok.text
    changed = _user(db, "wang")
    assert (changed.display_name, changed.email, changed.phone) == (
        "王小明",
        "Wang@example.com",
        "138 0013 8000",
    )
    [row] = _audit(db, "user.update", wang.id)
    assert row.changes["display_name"] == ["wang", "王小明"]


def test_bad_input_is_a_4xx_and_writes_nothing(admin_browser, make_user, db):
    wang, _ = make_user("wang", "agent", "service")
    page = admin_browser.get(f"/admin/users/{wang.id}").text
    token = csrf_of(page)
    unknown_role = admin_browser.post(
        f"/admin/users/{wang.id}/role", data={"csrf_token": token, "role": "root", "team": ""}
    )
    assert unknown_role.status_code == 422 and "未知角色" in unknown_role.text
    unknown_team = admin_browser.post(
        f"/admin/users/{wang.id}/role",
        data={"csrf_token": token, "role": "agent", "team": "nope"},
    )
    assert unknown_team.status_code == 422 and "没有这个团队" in unknown_team.text
    assert admin_browser.get("/admin/users/999999").status_code == 404
    assert admin_browser.get("/admin/users/abc").status_code in (404, 422)
    admin = _user(db, "admin1")
    myself = admin_browser.post(
        f"/admin/users/{admin.id}/role", data={"csrf_token": token, "role": "agent", "team": ""}
    )
    assert myself.status_code == 422 and "不能修改自己的角色" in myself.text
    assert _user(db, "admin1").role == "admin" and _user(db, "wang").role == "agent"
    assert _audit(db, "user.role_change", wang.id) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/users/{id}"),
        ("post", "/admin/users/{id}/role"),
        ("post", "/admin/users/{id}/password"),
        ("post", "/admin/users/{id}/reactivate"),
        ("post", "/admin/users/{id}/profile"),
        ("get", "/admin/agents"),
        ("get", "/admin/agents/{id}"),
        ("post", "/admin/agents/{id}"),
    ],
)
def test_an_agent_gets_403(signed_in, db, method, path):
    client = signed_in("agent1")
    me = _user(db, "agent1")
    url = path.format(id=me.id)
    if method == "get":
        response = client.get(url)
    else:
        token = csrf_of(client.get("/").text)
        data = {"csrf_token": token, "role": "admin", "mode": "generate", "skills": "x"}
        response = client.post(url, data=data)
    assert response.status_code == 403
    assert _user(db, "agent1").role == "agent"


def _shift_form(**days: str) -> dict[str, str]:
    form = {f"shift_{d}": "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    form.update({f"shift_{d}": v for d, v in days.items()})
    return form


def test_agents_page_changes_assignment(admin_browser, make_user, make_complaint, db, clock):
    """Absent or off-shift agents are skipped by the assignment strategies; skills count."""
    from kesu.accounts.service import SYSTEM
    from kesu.routing import rules

    first, _ = make_user("zhang", "agent", "finance")
    second, _ = make_user("li", "agent", "finance")
    with db.session() as session:
        rules.create_rule(
            session,
            clock,
            SYSTEM,
            {
                "name": "退款 → 财务",
                "position": 1,
                "conditions": {"field": "text", "op": "contains", "value": "退款"},
                "actions": [{"type": "assign", "team": "finance", "strategy": "least_loaded"}],
                "stop": True,
            },
        )

    def assignee() -> str | None:
        complaint = make_complaint("我要退款，商品有质量问题。")
        with db.session(write=False) as session:
            from kesu.complaints.models import Complaint

            row = session.get(Complaint, complaint.id)
            return row.assignee.username if row and row.assignee else None

    assert assignee() == "zhang"  # least loaded, lowest id
    listing = admin_browser.get("/admin/agents")
    assert listing.status_code == 200 and "zhang" in listing.text
    # zhang works only on Sundays (the clock says Monday 10:00): off shift, li gets it
    page = admin_browser.get(f"/admin/agents/{first.id}").text
    off = admin_browser.post(
        f"/admin/agents/{first.id}",
        data={
            "csrf_token": csrf_of(page),
            "skills": "",
            "absent_until": "",
            "auto_assign": "on",
            "use_shift": "on",
            **_shift_form(sun="09:00-18:00"),
        },
    )
    assert off.status_code == 200 and "已保存" in off.text
    with db.session(write=False) as session:
        profile = session.get(AgentProfile, first.id)
        assert profile is not None and profile.shift == {
            "hours": {"sun": [["09:00", "18:00"]]},
            "use_statutory": False,
        }
    assert assignee() == "li"
    # li is absent until tomorrow (inclusive): nobody is available, it waits in the team
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    page = admin_browser.get(f"/admin/agents/{second.id}").text
    saved = admin_browser.post(
        f"/admin/agents/{second.id}",
        data={
            "csrf_token": csrf_of(page),
            "skills": "账务, 英语",
            "absent_until": tomorrow,
            "auto_assign": "on",
            **_shift_form(),
        },
    )
    assert saved.status_code == 200 and "账务" in saved.text and tomorrow in saved.text
    assert assignee() is None
    [row] = _audit(db, "agent_profile.update", second.id)
    assert row.changes["skills"] == ["英语", "账务"]
    assert row.changes["absent_until"].startswith(
        (clock.now() + timedelta(days=2)).date().isoformat()
    )
    # back at work: li takes them again
    back = admin_browser.get(f"/admin/agents/{second.id}").text
    assert f'value="{tomorrow}"' in back
    admin_browser.post(
        f"/admin/agents/{second.id}",
        data={"csrf_token": csrf_of(back), "skills": "账务", "auto_assign": "on", **_shift_form()},
    )
    assert assignee() == "li"


def test_agents_page_refuses_bad_input(admin_browser, make_user, db):
    wang, _ = make_user("wang", "agent", "service")
    page = admin_browser.get(f"/admin/agents/{wang.id}").text
    for data, field, message in [
        ({"absent_until": "next week"}, "absent_until", "日期格式应为"),
        ({"absent_until": "99999-01-01"}, "absent_until", "日期格式应为"),
        ({"use_shift": "on", "shift_mon": "9-18"}, "shift_mon", "班次时间格式"),
        ({"use_shift": "on", "shift_mon": "18:00-09:00"}, "shift_mon", "班次无效"),
        ({"skills": "x" * 40}, "skills", "每个技能最多 32 个字符"),
    ]:
        body = {"csrf_token": csrf_of(page), "skills": "", **_shift_form(), **data}
        response = admin_browser.post(f"/admin/agents/{wang.id}", data=body)
        assert response.status_code == 422, (data, response.text)
        assert message in response.text, data
        assert f'name="{field}"' in response.text
    with db.session(write=False) as session:
        assert session.get(AgentProfile, wang.id) is None


def test_an_agent_sets_their_own_absence(signed_in, make_user, make_complaint, db, clock):
    """On their profile an agent says they are away; assignment skips them meanwhile."""
    from kesu.accounts.service import SYSTEM
    from kesu.complaints.models import Complaint
    from kesu.routing import rules

    make_user("li", "agent", "finance")
    with db.session() as session:
        rules.create_rule(
            session,
            clock,
            SYSTEM,
            {
                "name": "退款 → 财务",
                "position": 1,
                "conditions": {"field": "text", "op": "contains", "value": "退款"},
                "actions": [{"type": "assign", "team": "finance", "strategy": "round_robin"}],
                "stop": True,
            },
        )
    client = signed_in("zhang", role="agent", team="finance")
    me = _user(db, "zhang")
    assert 'href="/me/absence"' in client.get("/me/tokens").text
    page = client.get("/me/absence")
    assert page.status_code == 200 and "在岗" in page.text
    past = (clock.now() - timedelta(days=3)).date().isoformat()
    bad = client.post("/me/absence", data={"csrf_token": csrf_of(page.text), "absent_until": past})
    assert bad.status_code == 422 and "日期不能早于今天" in bad.text
    garbage = client.post(
        "/me/absence", data={"csrf_token": csrf_of(page.text), "absent_until": "soon"}
    )
    assert garbage.status_code == 422 and "日期格式应为" in garbage.text
    until = (clock.now() + timedelta(days=5)).date().isoformat()
    done = client.post(
        "/me/absence", data={"csrf_token": csrf_of(page.text), "absent_until": until}
    )
    assert done.status_code == 200 and f"已设置缺席至 {until}" in done.text

    def assignee() -> str | None:
        complaint = make_complaint("我要退款。")
        with db.session(write=False) as session:
            row = session.get(Complaint, complaint.id)
            return row.assignee.username if row and row.assignee else None

    assert {assignee(), assignee()} == {"li"}
    [row] = _audit(db, "agent_profile.absence", me.id)
    assert row.actor_label == "zhang" and row.changes["absent_until"][0] is None
    back = client.post("/me/absence", data={"csrf_token": csrf_of(done.text), "clear": "1"})
    assert "已取消缺席" in back.text
    assert {assignee(), assignee()} == {"li", "zhang"}


def test_an_auditor_cannot_set_an_absence(signed_in, db):
    client = signed_in("audit1", role="auditor", team=None)
    page = client.get("/me/absence")
    assert page.status_code == 200 and "只有客服和组长参与自动分配" in page.text
    refused = client.post(
        "/me/absence", data={"csrf_token": csrf_of(page.text), "absent_until": "2030-01-01"}
    )
    assert refused.status_code == 403
    with db.session(write=False) as session:
        assert session.get(AgentProfile, _user(db, "audit1").id) is None
