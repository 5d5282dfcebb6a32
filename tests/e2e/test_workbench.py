"""The workbench in a real browser: tick rows (with the mouse and with j/x), apply a bulk
action, open a complaint with the keyboard and claim it with c; ? shows the shortcuts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.service import Actor
from kesu.clock import SystemClock
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, _shoot
from tests.e2e.test_browser import server as server  # the fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]


def _seed(server: Server) -> list[str]:
    clock = SystemClock()
    with server.db.session() as session:
        accounts.create_user(
            session,
            clock,
            accounts.SYSTEM,
            username="lead1",
            password=PASSWORD,
            role="team_lead",
            team_code="service",
            display_name="张组长",
        )
        made = []
        for i in range(3):
            complaint, _ = registration.create_complaint(
                session,
                clock,
                Actor("customer", None, "客户"),
                ComplaintCreate.model_validate(
                    {
                        "channel": "web",
                        "content": f"第 {i} 件：耳机左耳没有声音",
                        "customer": {"name": "客户", "phone": f"1380013{i:04d}"},
                    }
                ),
            )
            made.append(complaint.number)
        session.commit()
    return made


def test_bulk_tag_with_checkboxes_and_keyboard_claim(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    numbers = _seed(server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            page = browser.new_context(locale="zh-CN").new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(f"{server.url}/login?next=/%3Ftab%3Dteam")
            page.fill("#username", "lead1")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            rows = page.locator("#worklist tbody tr[data-href]")
            expect(rows).to_have_count(3)
            # j selects the first row (the newest), x ticks it; the mouse ticks the last one
            page.keyboard.press("j")
            expect(rows.nth(0)).to_have_class("current")
            page.keyboard.press("x")
            expect(rows.nth(0).locator("input.pick-row")).to_be_checked()
            rows.nth(2).locator("input.pick-row").check()
            expect(page.locator("#bulk-count")).to_have_text("已选 2 件")
            page.select_option("#bulk-action", "tag")
            expect(page.locator("#bulk-assign")).to_be_hidden()
            page.fill("#bulk-tag", "回访")
            _shoot(page, "workbench-bulk")
            page.click("#bulk-apply")
            expect(page.locator(".flash")).to_contain_text("已更新 2 件，跳过 0 件")
            # select all on this page, then none
            page.locator("#pick-all").check()
            expect(page.locator("#bulk-count")).to_have_text("已选 3 件")
            page.locator("#pick-all").uncheck()
            # ? shows the help, Escape closes it
            page.keyboard.press("?")
            expect(page.locator("#shortcut-help")).to_be_visible()
            expect(page.locator("#shortcut-help")).to_contain_text("键盘快捷键")
            page.keyboard.press("Escape")
            expect(page.locator("#shortcut-help")).to_be_hidden()
            # / goes to the search box, and keys typed there stay there
            page.keyboard.press("/")
            page.keyboard.type("jx")
            expect(page.locator("#wb-search")).to_have_value("jx")
            page.locator("#wb-search").fill("")
            page.locator("#wb-search").blur()
            # j j Enter opens the second row; c claims it
            page.keyboard.press("j")
            page.keyboard.press("j")
            second = rows.nth(1).get_attribute("data-href") or ""
            page.keyboard.press("Enter")
            expect(page).to_have_url(f"{server.url}{second}")
            page.wait_for_load_state()  # the shortcuts are bound once the page's script ran
            page.keyboard.press("c")
            expect(page.locator(".flash")).to_contain_text("已领取")
            page.keyboard.press("n")
            expect(page.locator("form[action$='/note'] textarea")).to_be_focused()
            assert problems == []
        finally:
            browser.close()

    with server.db.session(write=False) as session:
        found = {c.number: c for c in session.scalars(select(Complaint)).unique()}
        tagged = sorted(n for n, c in found.items() if "回访" in (c.tags or []))
        assert tagged == sorted([numbers[2], numbers[0]])
        claimed = found[second.rsplit("/", 1)[1]]
        assert claimed.assignee is not None and claimed.assignee.username == "lead1"
