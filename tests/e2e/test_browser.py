"""End to end in a real browser: Debian's Chromium driven by Playwright against a real
uvicorn server on 127.0.0.1 with a migrated SQLite database.

A customer submits the public form and gets a tracking number; an agent signs in, finds the
complaint in the team queue, opens it and moves it to 调查核实.

Set KESU_E2E_SCREENSHOTS=<dir> to also save phone-sized screenshots of the pages.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.clock import SystemClock
from kesu.complaints.models import Complaint
from kesu.config import Settings
from kesu.db import Database
from kesu.migrate import upgrade
from kesu.web.app import create_app

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
PASSWORD = "password-123"


@dataclass
class Server:
    url: str
    db: Database


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = Database(f"sqlite:///{tmp_path / 'e2e.db'}")
    upgrade(db, SystemClock())
    with db.session() as session:
        accounts.create_user(
            session,
            SystemClock(),
            accounts.SYSTEM,
            username="agent1",
            password=PASSWORD,
            role="agent",
            team_code="service",
            display_name="李客服",
        )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port, held until uvicorn takes the socket over
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


def _shoot(page, name: str) -> None:
    folder = os.environ.get("KESU_E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)
def test_customer_submits_and_agent_moves_it_to_investigating(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []  # console errors: CSP violations, JS errors, 404 assets
            customer = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
            customer.on("console", lambda m: m.type == "error" and problems.append(m.text))
            customer.goto(f"{server.url}/submit")
            _shoot(customer, "public-form")
            customer.fill("#f-name", "周女士")
            customer.fill("#f-phone", "13912345678")
            customer.fill("#f-order_no", "SO-20261122-01")
            customer.fill("#f-content", "收到的电热水壶底座漏电，插上电源就跳闸。<b>很危险</b>")
            customer.select_option("#f-remedy", "replacement")
            customer.click("button[type=submit]")
            number_box = customer.locator("#tracking-number")
            expect(number_box).to_have_text(re.compile(r"TS\d{8}-\d{6}"))
            number = number_box.inner_text().strip()
            expect(customer.locator("#public-stage")).to_have_text("已受理")
            _shoot(customer, "tracking")

            agent = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
            agent.on("console", lambda m: m.type == "error" and problems.append(m.text))
            agent.goto(f"{server.url}/")
            expect(agent).to_have_url(re.compile(r"/login\?next=/$"))
            agent.fill("#username", "agent1")
            agent.fill("#password", PASSWORD)
            agent.click("button[type=submit]")
            agent.click("text=团队队列")
            row_link = agent.locator(f"a.num:text-is('{number}')")
            expect(row_link).to_be_visible()
            _shoot(agent, "workbench")
            row_link.click()
            expect(agent.locator("h1")).to_contain_text(number)
            expect(agent.locator(".badge.stage").first).to_have_text("受理登记")
            agent.fill("#transition-investigating-comment", "已致电客户，安排上门检测")
            agent.click("button[name=go][value=investigating]")
            expect(agent.locator(".flash")).to_contain_text("已转到「调查核实」")
            expect(agent.locator(".badge.stage").first).to_have_text("调查核实")
            _shoot(agent, "complaint")
            assert problems == []
        finally:
            browser.close()

    with server.db.session(write=False) as session:
        saved = session.scalar(select(Complaint).where(Complaint.number == number))
        assert saved is not None
        assert saved.stage == "investigating" and saved.channel == "web"
        assert saved.customer.name == "周女士"
