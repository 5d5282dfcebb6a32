"""The issue's browser test (Debian's Chromium via Playwright, a real uvicorn on 127.0.0.1):
an agent requests compensation above the fast-claim threshold from the complaint page, the
team lead approves it from their queue, and the customer's tracking page shows the decision
and the rule it came from, without the approver's name."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.clock import SystemClock
from kesu.compensation.models import CompensationPayout, CompensationRequest
from kesu.complaints import lifecycle, registration
from kesu.complaints import service as complaints
from kesu.complaints.schemas import ComplaintCreate
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, _shoot, server

pytestmark = pytest.mark.e2e
__all__ = ["server"]


def proposing(server: Server) -> tuple[str, str]:
    """A product-quality complaint (order 199.90) handled by agent1, at 方案制定, and a team
    lead of the agent's team: (number, tracking token)."""
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
            display_name="王组长",
        )
        data = ComplaintCreate.model_validate(
            {
                "channel": "web",
                "customer": {"name": "陈先生", "phone": "13700001111"},
                "content": "新买的电水壶无法开机，按键没有任何反应。",
                "category": "产品质量/功能故障/无法开机",
                "order_value": "199.90",
            }
        )
        complaint, _ = registration.create_complaint(session, clock, accounts.SYSTEM, data)
        agent = session.scalar(select(User).where(User.username == "agent1"))
        complaints.assign(
            session,
            clock,
            accounts.SYSTEM,
            complaint,
            version=complaint.version,
            team=agent.team if agent else None,
            assignee=agent,
            reason="测试",
        )
        for stage, outputs in (("investigating", {}), ("proposing", {"findings": "主板故障"})):
            lifecycle.transition(session, clock, accounts.SYSTEM, complaint, stage, None, outputs)
        session.flush()
        return complaint.number, complaint.tracking_token


def sign_in(browser: Any, server: Server, username: str) -> Any:
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    return page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not at /usr/bin/chromium")
def test_request_approve_from_the_queue_and_the_customer_sees_it(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    number, token = proposing(server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            agent = sign_in(browser, server, "agent1")
            agent.on("console", lambda m: m.type == "error" and problems.append(m.text))
            agent.goto(f"{server.url}/complaints/{number}")
            expect(agent.locator("#compensation-recommendation")).to_contain_text("产品质量")
            # the form is prefilled from the recommendation: a full refund of 199.90 yuan
            expect(agent.locator("#comp-method")).to_have_value("refund")
            expect(agent.locator("#comp-amount")).to_have_value("199.90")
            _shoot(agent, "compensation-request")
            agent.click("#compensation-form button[type=submit]")
            expect(agent.locator(".flash")).to_contain_text("赔付申请已提交")
            expect(agent.locator("#compensation .comp-status").first).to_have_text("待审批")

            lead = sign_in(browser, server, "lead1")
            lead.on("console", lambda m: m.type == "error" and problems.append(m.text))
            lead.click("nav >> text=赔付审批")
            expect(lead.locator("#queue-count")).to_contain_text("待我审批 1 件")
            card = lead.locator(".comp-request").first
            expect(card).to_contain_text(number)
            expect(card).to_contain_text("退款 199.90 元")
            _shoot(lead, "compensation-queue")
            card.locator("button[value=approve]").click()
            expect(lead.locator(".flash")).to_contain_text("已批准")
            expect(lead.locator("#queue-empty")).to_be_visible()

            # the approved compensation feeds the solution of the 方案制定 move
            agent.goto(f"{server.url}/complaints/{number}")
            expect(agent.locator("#transition-confirming-solution")).to_have_value(
                re.compile("退款 199.90 元")
            )

            customer = browser.new_context(locale="zh-CN").new_page()
            customer.on("console", lambda m: m.type == "error" and problems.append(m.text))
            customer.goto(f"{server.url}/t/{token}")
            box = customer.locator("#compensation")
            expect(customer.locator("#compensation-status")).to_have_text("已批准")
            expect(customer.locator("#compensation-what")).to_have_text("退款 199.90 元")
            expect(customer.locator("#compensation-rule")).to_contain_text("产品质量问题")
            expect(box).not_to_contain_text("王组长")
            expect(box).not_to_contain_text("lead1")
            _shoot(customer, "compensation-tracking")
            assert problems == [], problems
        finally:
            browser.close()

    with server.db.session(write=False) as session:
        req = session.scalar(select(CompensationRequest))
        assert req is not None and req.status == "approved" and req.standard_version == 1
        payouts = list(session.scalars(select(CompensationPayout)))
        assert [(p.request_id, str(p.amount)) for p in payouts] == [(req.id, "199.90")]
