"""In a real browser: an admin builds a routing rule with the structured editor (a sub-group,
enum checkboxes, the 3-level category picker, action rows), looks at its JSON, saves it, then
edits the rule as JSON; an agent's entry form has the linked category selects.

No console errors are allowed (a CSP violation or a JS error fails the test).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.clock import SystemClock
from kesu.config import Settings
from kesu.db import Database
from kesu.migrate import upgrade
from kesu.routing.models import RoutingRule
from kesu.taxonomy.models import Category
from kesu.web.app import create_app
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, _shoot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]
DESKTOP = {"width": 1280, "height": 1000}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = Database(f"sqlite:///{tmp_path / 'e2e.db'}")
    upgrade(db, SystemClock())
    with db.session() as session:
        for username, role, team in (("admin1", "admin", None), ("agent1", "agent", "service")):
            accounts.create_user(
                session,
                SystemClock(),
                accounts.SYSTEM,
                username=username,
                password=PASSWORD,
                role=role,
                team_code=team,
            )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(database_url=db.url, environment="test", base_url=url)
    app = create_app(settings, clock=SystemClock(), db=db)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # start-up only: returns as soon as it is up
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield Server(url, db)
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()
    db.dispose()


def _sign_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_build_a_rule_with_the_structured_editor(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    with server.db.session(write=False) as session:
        leaf = session.scalars(
            select(Category).where(Category.level == 3).order_by(Category.path)
        ).first()
        assert leaf is not None
        level1, level2, _ = leaf.path.split("/")
        leaf_path, leaf_id = leaf.path, leaf.id

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            page = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            _sign_in(page, server.url, "admin1")
            page.goto(f"{server.url}/admin/rules")
            editor = page.locator("[data-rule-editor]")
            expect(editor.locator("[data-rows-pane]")).to_be_visible()
            expect(editor.locator("[data-json-pane]")).to_be_hidden()
            page.fill("#f-name", "VIP 账务 → 财务")

            # row 1 (the example row: category under …): pick the category level by level
            first = editor.locator("[data-leaf]").first
            expect(first.locator("select[name$='-field']")).to_have_value("category")
            first.locator("select[name$='-op']").select_option("under")
            picker = first.locator(".category-levels select")
            expect(picker).to_have_count(3)
            picker.nth(0).select_option(f"{level1}")
            picker.nth(1).select_option(f"{level1}/{level2}")
            expect(picker.nth(2)).to_be_visible()
            picker.nth(2).select_option(leaf_path)

            # a sub-group: any of (tier in VIP/重要客户, severity ≥ 严重)
            editor.get_by_role("button", name="添加条件组").click()
            group = editor.locator(".rule-group.nested")
            group.locator("select[name$='-match']").select_option("any")
            row = group.locator("[data-leaf]").first
            row.locator("select[name$='-field']").select_option("tier")
            row.locator("select[name$='-op']").select_option("in")
            row.get_by_label("VIP").check()
            row.get_by_label("重要客户").check()
            group.get_by_role("button", name="添加条件").click()
            row = group.locator("[data-leaf]").nth(1)
            row.locator("select[name$='-field']").select_option("severity")
            row.locator("select[name$='-op']").select_option("gte")
            row.locator(".rule-value select").select_option("serious")

            # actions: the example assign row → least loaded; add a tag
            action = editor.locator("[data-action]").first
            action.locator("select[name$='-strategy']").select_option("least_loaded")
            editor.get_by_role("button", name="添加动作").click()
            action = editor.locator("[data-action]").nth(1)
            action.locator("select[name$='-type']").select_option("add_tag")
            action.locator("input[name$='-tag']").fill("vip")

            expected_conditions = {
                "all": [
                    {"field": "category", "op": "under", "value": leaf_path},
                    {
                        "any": [
                            {"field": "tier", "op": "in", "value": ["vip", "key"]},
                            {"field": "severity", "op": "gte", "value": "serious"},
                        ]
                    },
                ]
            }
            _shoot(page, "rule-editor")
            # the JSON view shows what the rows say; back to the rows, nothing is lost
            editor.get_by_role("button", name="JSON 编辑").click()
            expect(editor.locator("[data-json-pane]")).to_be_visible()
            shown = json.loads(page.input_value("#f-conditions"))
            assert shown == expected_conditions
            editor.get_by_role("button", name="表格编辑").click()
            expect(editor.locator("[data-leaf]")).to_have_count(3)
            page.click("text=添加规则")
            expect(page.locator(".flash")).to_contain_text("已添加规则「VIP 账务 → 财务」")
            assert problems == []

            with server.db.session(write=False) as session:
                rule = session.scalar(
                    select(RoutingRule).where(RoutingRule.name == "VIP 账务 → 财务")
                )
                assert rule is not None
                assert rule.conditions == expected_conditions
                assert [a["type"] for a in rule.actions] == ["assign", "add_tag"]
                assert rule.actions[0]["strategy"] == "least_loaded"
                assert rule.actions[1] == {"type": "add_tag", "tag": "vip"}
                rule_id = rule.id

            # an expert edits it as JSON: the JSON view sends the textarea
            page.goto(f"{server.url}/admin/rules/{rule_id}")
            editor = page.locator("[data-rule-editor]")
            expect(editor.locator("[data-leaf]")).to_have_count(3)
            editor.get_by_role("button", name="JSON 编辑").click()
            page.fill("#f-conditions", '{"field": "tier", "op": "eq", "value": "vip"}')
            page.click("button:text-is('保存')")
            expect(page.locator(".flash")).to_contain_text("已保存规则")
            # a bad row comes back with its row marked and the message on the form
            page.goto(f"{server.url}/admin/rules/{rule_id}")
            editor = page.locator("[data-rule-editor]")
            row = editor.locator("[data-leaf]").first
            row.locator("select[name$='-field']").select_option("priority")
            row.locator("select[name$='-op']").select_option("gt")
            row.locator(".rule-value input").fill("高")
            page.click("button:text-is('保存')")
            expect(page.locator("div.error[role=alert]")).to_contain_text("必须是数字")
            expect(page.locator("[data-leaf].invalid")).to_have_count(1)
            # the refused form's answer is a 422, which Chromium logs; nothing else may be
            assert [m for m in problems if "status of 422" not in m] == []
            problems.clear()

            # the agent's entry form: three linked selects set the category id
            agent = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
            agent.on("console", lambda m: m.type == "error" and problems.append(m.text))
            _sign_in(agent, server.url, "agent1")
            agent.goto(f"{server.url}/complaints/new")
            expect(agent.locator("#f-category")).to_be_hidden()
            agent.select_option("#f-category-1", level1)
            agent.select_option("#f-category-2", f"{level1}/{level2}")
            agent.select_option("#f-category-3", leaf_path)
            assert agent.input_value("#f-category") == str(leaf_id)
            _shoot(agent, "category-picker")
            agent.select_option("#f-category-1", "")
            assert agent.input_value("#f-category") == ""
            expect(agent.locator("#f-category-2")).to_be_hidden()
            assert problems == []
        finally:
            browser.close()

    with server.db.session(write=False) as session:
        saved = session.get(RoutingRule, rule_id)
        assert saved is not None
        assert saved.conditions == {"field": "tier", "op": "eq", "value": "vip"}
