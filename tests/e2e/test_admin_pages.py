"""In a real browser: an admin creates an SLA policy with the structured condition editor (the
routing rules' kesu-rules.js reused), and the calendar and endpoint pages load with no console
errors (a CSP violation or a JS error fails the test)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kesu.sla.models import SlaPolicy
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, Server
from tests.e2e.test_rule_editor import DESKTOP, _sign_in, server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]
__all__ = ["server"]


def test_create_an_sla_policy_with_the_condition_rows(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            page = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            _sign_in(page, server.url, "admin1")
            page.goto(f"{server.url}/admin/sla/policies/new")
            editor = page.locator("[data-rule-editor]")
            expect(editor.locator("[data-rows-pane]")).to_be_visible()
            expect(editor.locator("[data-actions]")).to_be_hidden()
            page.fill("#f-code", "gold")
            page.fill("#f-name", "重大投诉")
            editor.get_by_role("button", name="添加条件", exact=True).click()
            row = editor.locator("[data-leaf]").first
            row.locator("select[name$='-field']").select_option("severity")
            row.locator("select[name$='-op']").select_option("gte")
            row.locator(".rule-value select").select_option("serious")
            page.fill("#f-t_resolution", "4")
            page.select_option("#f-u_resolution", "hours")
            page.locator("form[action='/admin/sla/policies'] button[type=submit]").click()
            expect(page.locator(".flash")).to_contain_text("已创建时限策略「重大投诉」")
            expect(page.locator("#effect")).to_contain_text("到期")

            for path in ("/admin/sla", "/admin/sla/calendars/standard", "/admin/endpoints"):
                page.goto(f"{server.url}{path}")
                expect(page.locator(".tabs a.on")).to_be_visible()
            assert problems == []
        finally:
            browser.close()

    with server.db.session(write=False) as session:
        row = session.scalar(select(SlaPolicy).where(SlaPolicy.code == "gold"))
        assert row is not None
        assert row.conditions == {"all": [{"field": "severity", "op": "gte", "value": "serious"}]}
        assert row.targets["resolution"] == {"minutes": 240}
