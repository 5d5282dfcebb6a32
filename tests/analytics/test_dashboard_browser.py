"""In a real browser (Debian's Chromium via Playwright, a real uvicorn on 127.0.0.1): a manager
opens the dashboard, every chart is drawn (a canvas in each, no console error: no CSP
violation, no missing file), and clicking the bars drills from a top-level category through
its levels down to the workbench, filtered by that category and period, listing exactly its
complaints."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from kesu.accounts import service as accounts
from kesu.analytics import rollups
from kesu.clock import SystemClock
from kesu.complaints import registration
from kesu.complaints.schemas import ComplaintCreate
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, _shoot, server

pytestmark = pytest.mark.e2e
__all__ = ["server"]

LEAF = "产品质量/功能故障/无法开机"
OTHERS = ("物流服务/配送延误/超时未送达", "账务/发票问题/发票未开具")


def seed(server: Server) -> list[str]:
    """Four 无法开机 in the last few days (the biggest bar at every level), one of each other
    category, and a manager; the rollups caught up as the worker would."""
    clock = SystemClock()
    numbers = []
    with server.db.session() as session:
        accounts.create_user(
            session,
            clock,
            accounts.SYSTEM,
            username="boss",
            password=PASSWORD,
            role="manager",
            team_code=None,
            display_name="王主管",
        )
        for index, path in enumerate((LEAF, LEAF, LEAF, LEAF, *OTHERS)):
            data = ComplaintCreate.model_validate(
                {
                    "channel": "phone",
                    "customer": {
                        "name": "陈先生",
                        "phone": f"1370000{index:04d}",
                        "region": "上海",
                    },
                    "content": "手机充不进电，无法开机。" if path == LEAF else "有问题需要处理。",
                    "product": "手机 K60",
                    "category": path,
                    "received_at": (clock.now() - timedelta(days=index % 3, hours=1)).isoformat(),
                }
            )
            complaint, _ = registration.create_complaint(session, clock, accounts.SYSTEM, data)
            if path == LEAF:
                numbers.append(complaint.number)
    rollups.catch_up_all(server.db, clock)
    return numbers


def click_first_bar(page: Any, chart: str) -> None:
    """A real mouse click on the middle of the chart's first (largest) bar."""
    selector = f"[data-chart='{chart}'][data-rendered]"
    page.wait_for_selector(selector)
    x, y = page.evaluate(
        """(sel) => {
          const el = document.querySelector(sel);
          el.scrollIntoView({block: "center"});
          const c = echarts.getInstanceByDom(el);
          const v = c.getOption().series[0].data[0];
          const p = c.convertToPixel({seriesIndex: 0}, [v / 2, 0]);
          const r = el.getBoundingClientRect();
          return [r.left + p[0], r.top + p[1]];
        }""",
        selector,
    )
    page.mouse.click(x, y)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not at /usr/bin/chromium")
def test_a_manager_drills_from_a_category_to_its_complaints(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    numbers = seed(server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            page = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN"
            ).new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{server.url}/login?next=/dashboard")
            page.fill("#username", "boss")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("分析看板")
            page.wait_for_selector("[data-chart='category'][data-rendered]")
            charts = page.locator("[data-chart]")
            drawn = page.locator("[data-chart][data-rendered] canvas")
            assert charts.count() >= 7
            assert drawn.count() == charts.count()  # every chart has its canvas
            expect(page.locator(".kpi").first).to_be_visible()
            _shoot(page, "dashboard")

            click_first_bar(page, "category")  # 产品质量 → its problem types
            expect(page).to_have_url(re.compile(r"/dashboard\?.*category=\d+"))
            expect(page.locator(".crumbs")).to_contain_text("产品质量")
            click_first_bar(page, "category")  # 功能故障 → its phenomena
            expect(page.locator(".crumbs")).to_contain_text("功能故障")
            click_first_bar(page, "category")  # 无法开机: a leaf → the workbench
            expect(page).to_have_url(
                re.compile(r"/\?tab=all&status=any&received_from=.*category=\d+")
            )
            expect(page.locator("#wb-drill")).to_contain_text("无法开机")
            shown = set(re.findall(r"TS\d{8}-\d{6}", page.locator("table").first.inner_text()))
            assert shown == set(numbers)
            _shoot(page, "dashboard-drill-workbench")
            assert not problems, "\n".join(problems)
        finally:
            browser.close()
