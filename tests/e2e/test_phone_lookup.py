"""The entry form in a real browser: the agent types the caller's phone, sees the caller's
earlier complaint (with its link) and their name filled in, adds a call summary and saves;
then the workbench search by that phone finds both complaints, the phone masked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kesu.accounts.service import Actor
from kesu.clock import SystemClock
from kesu.complaints import registration
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.complaints.schemas import ComplaintCreate
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, _shoot
from tests.e2e.test_browser import server as server  # the fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]
PHONE = "13912345678"


def _earlier(server: Server) -> str:
    with server.db.session() as session:
        complaint, _ = registration.create_complaint(
            session,
            SystemClock(),
            Actor("customer", None, "赵敏"),
            ComplaintCreate.model_validate(
                {
                    "channel": "web",
                    "content": "热水器不加热，师傅上门后还是不行",
                    "customer": {"name": "赵敏", "phone": PHONE},
                }
            ),
        )
        session.commit()
        return complaint.number


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_typing_the_phone_shows_the_earlier_complaint(server: Server, locale: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    earlier = _earlier(server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            page = browser.new_context(locale=locale).new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(f"{server.url}/login?next=/complaints/new")
            page.fill("#username", "agent1")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#f-phone")).to_be_visible()
            page.locator("#f-phone").press_sequentially("139 1234 5678", delay=20)
            panel = page.locator("#caller-lookup")
            expect(panel).to_be_visible()
            expect(panel.locator(f"a[href='/complaints/{earlier}']")).to_have_text(earlier)
            expect(panel).to_contain_text("热水器不加热")
            expect(panel).to_contain_text("Earlier complaints" if locale == "en" else "以往投诉")
            expect(page.locator("#f-name")).to_have_value("赵敏")
            _shoot(page, f"entry-lookup-{locale}")
            page.fill("#f-content", "热水器又坏了，第二次来电")
            page.fill("#f-call_summary", "客户第二次来电，要求换新")
            page.click("button.big[type=submit]")
            expect(page.locator("#created-number")).to_be_visible()
            number = page.locator("#created-number").inner_text().strip()
            # the workbench search by the phone finds both, the phone masked
            page.goto(f"{server.url}/?tab=team&q={PHONE}")
            expect(page.locator(f"a[href='/complaints/{number}']").first).to_be_visible()
            expect(page.locator(f"a[href='/complaints/{earlier}']").first).to_be_visible()
            row = page.locator(f"tr[data-href='/complaints/{earlier}']")
            expect(row).to_contain_text("139****5678")
            assert PHONE not in row.inner_text()
            # a number nobody has: the panel says so
            page.goto(f"{server.url}/complaints/new")
            page.locator("#f-phone").press_sequentially("13700000000", delay=10)
            expect(page.locator("#lookup-none")).to_be_visible()
            assert problems == []
        finally:
            browser.close()
    with server.db.session(write=False) as session:
        found = session.scalar(select(Complaint).where(Complaint.number == number))
        assert found is not None and found.customer.name == "赵敏"
        # "use this customer" wrote the phone as stored, so the complaint joined the customer
        assert found.contact_phone == PHONE
        earlier_customer = session.scalar(
            select(Complaint.customer_id).where(Complaint.number == earlier)
        )
        assert found.customer_id == earlier_customer
        summary = session.scalar(
            select(ComplaintEvent.body).where(
                ComplaintEvent.complaint_id == found.id, ComplaintEvent.kind == "note"
            )
        )
        assert summary == "客户第二次来电，要求换新"
