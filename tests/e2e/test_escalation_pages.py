"""End to end in Debian's Chromium: the entry form's confirmation when the rules route the
complaint to another team, a lead's task queue, and a manager's incident page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import Team
from kesu.clock import SystemClock
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate
from kesu.incidents.models import Incident
from kesu.tasks.service import create_task
from tests.e2e.test_browser import (  # noqa: F401 (server: the fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    PHONE,
    Server,
    _shoot,
    server,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]


def _people(site: Server) -> None:
    with site.db.session() as session:
        for username, role, team in (
            ("lead1", "team_lead", "service"),
            ("boss", "manager", None),
            ("eng1", "agent", "engineering"),
        ):
            accounts.create_user(
                session,
                SystemClock(),
                accounts.SYSTEM,
                username=username,
                password=PASSWORD,
                role=role,
                team_code=team,
            )


def _sign_in(browser, site: Server, username: str, problems: list[str]):
    page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.goto(f"{site.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    return page


def _complaint(site: Server, content: str, category: str | None = None) -> Complaint:
    body = {
        "channel": "web",
        "content": content,
        "customer": {"name": "王女士", "phone": "13800138000"},
    }
    if category:
        body["category"] = category
    with site.db.session() as session:
        complaint, _ = registration.create_complaint(
            session, SystemClock(), accounts.SYSTEM, ComplaintCreate.model_validate(body)
        )
        session.flush()
        return complaint


@pytest.fixture
def site(server: Server) -> Server:  # noqa: F811 (the fixture of test_browser)
    return server


def test_confirmation_task_queue_and_incident_pages(site: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    _people(site)
    routed = _complaint(site, "屏幕闪烁，售后让我再等等。")
    with site.db.session() as session:
        complaint = session.get(Complaint, routed.id)
        team = session.scalar(select(Team).where(Team.code == "service"))
        create_task(
            session,
            SystemClock(),
            accounts.SYSTEM,
            complaint,
            kind="subtask",
            title="请回访客户确认问题",
            team=team,
        )
    for _ in range(6):
        _complaint(site, "客服反复转接没人解决", "服务态度/专业能力/反复转接")
    with site.db.session(write=False) as session:
        incident = session.scalar(select(Incident))
        assert incident is not None

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            agent = _sign_in(browser, site, "agent1", problems)
            agent.goto(f"{site.url}/complaints/new")
            agent.fill("#f-name", "陈先生")
            agent.fill("#f-phone", "13511112222")
            agent.fill("#f-content", "手机无法开机，充电也没有反应")
            agent.click("button.big[type=submit]")
            expect(agent.locator("#created-number")).to_have_text(re.compile(r"TS\d{8}-\d{6}"))
            expect(agent.locator("#tracking-url")).to_have_value(re.compile(r"/t/[\w-]{20,}"))
            expect(agent.locator("#created-routed")).to_contain_text("技术支持部")
            _shoot(agent, "created")

            lead = _sign_in(browser, site, "lead1", problems)
            lead.click("nav >> text=任务")
            row = lead.locator("tr", has_text="请回访客户确认问题")
            expect(row).to_be_visible()
            _shoot(lead, "tasks")
            row.locator("button", has_text="领取").click()
            expect(lead.locator(".flash")).to_contain_text("已领取任务")
            lead.locator("tr", has_text="请回访客户确认问题").locator(
                "button", has_text="完成"
            ).click()
            expect(lead.locator(".flash")).to_contain_text("已完成")
            expect(lead.locator("tr", has_text="请回访客户确认问题")).to_have_count(0)

            boss = _sign_in(browser, site, "boss", problems)
            boss.click("nav >> text=应急事件")
            boss.click(f"a[href='/incidents/{incident.id}']")
            expect(boss.locator("#incident-status")).to_have_text("处理中")
            expect(boss.locator("#incident a.num, .card a.num")).to_have_count(6)
            _shoot(boss, "incident")
            boss.fill("#f-note", "已统一回访并培训客服")
            boss.click("button:text-is('关闭')")
            expect(boss.locator("#incident-status")).to_have_text("已关闭")
            expect(boss.locator("#incident-closed")).to_contain_text("已统一回访并培训客服")
            assert problems == []
        finally:
            browser.close()
