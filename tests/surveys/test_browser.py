"""In a real browser on a phone-sized viewport (Debian's Chromium via Playwright, a real
uvicorn on 127.0.0.1): the customer rates a resolved complaint on /s/{token} in Chinese, the
page fits the phone and says thank you; the same page in English, and a second visit says in
words that it was already answered."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.clock import SystemClock
from kesu.complaints import lifecycle, registration
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate
from kesu.surveys.models import Survey
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, Server, _shoot, server

pytestmark = pytest.mark.e2e
__all__ = ["server"]

STEPS = (
    ("investigating", {}),
    ("proposing", {"findings": "电池鼓包"}),
    ("confirming", {"solution": "免费更换电池"}),
    ("rectifying", {}),
    ("feedback", {"measures": "抽检同批次"}),
    ("rating", {"result": "已更换"}),
)


def resolved_survey(server: Server, locale: str) -> tuple[str, str]:
    """A complaint taken to 满意度评价 through the lifecycle: (survey token, number)."""
    clock = SystemClock()
    with server.db.session() as session:
        data = ComplaintCreate.model_validate(
            {
                "channel": "web",
                "locale": locale,
                "customer": {"name": "陈先生", "phone": "13700001111"},
                "content": "手机电池鼓包，后盖被顶开。",
            }
        )
        complaint, _ = registration.create_complaint(session, clock, accounts.SYSTEM, data)
        for stage, outputs in STEPS:
            lifecycle.transition(session, clock, accounts.SYSTEM, complaint, stage, None, outputs)
        session.flush()
        token = session.scalar(select(Survey.token).where(Survey.complaint_id == complaint.id))
        assert token is not None
        return token, complaint.number


def rate(page: Any, scores: dict[str, int]) -> None:
    for name, value in scores.items():
        # the radio is visually hidden behind its chip: tap the chip, as a thumb would
        page.locator(f"#q-{name} label:has(input[value='{value}']) span").click()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not at /usr/bin/chromium")
@pytest.mark.parametrize(
    ("locale", "browser_locale", "words", "thanks", "already"),
    [
        ("zh_CN", "zh-CN", ("处理时效", "方案合理性", "服务态度"), "感谢您的评价", "已经提交过"),
        ("en", "en-US", ("Timeliness", "Solution", "Attitude"), "Thank you", "already been"),
    ],
)
def test_a_customer_rates_on_a_phone(
    server: Server,
    locale: str,
    browser_locale: str,
    words: tuple[str, ...],
    thanks: str,
    already: str,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    token, number = resolved_survey(server, locale)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            page = browser.new_context(viewport=PHONE, locale=browser_locale).new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(f"{server.url}/s/{token}")
            expect(page.locator("#survey-number")).to_have_text(number)
            for word in words:
                expect(page.locator("#survey-form")).to_contain_text(word)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            # the 0–10 scale fits too, and each chip is big enough to tap
            chip = page.locator("#q-nps label span").first.bounding_box()
            assert chip is not None and chip["height"] >= 30 and chip["width"] >= 24
            _shoot(page, f"survey-{locale}")
            rate(page, {"timeliness": 5, "solution": 4, "attitude": 5, "nps": 10})
            page.fill("#q-comment", "换得很快" if locale == "zh_CN" else "Quick swap")
            page.click("#survey-submit")
            expect(page.locator("body")).to_contain_text(thanks)
            expect(page.locator("#survey-form")).to_have_count(0)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            page.goto(f"{server.url}/s/{token}")
            expect(page.locator("#survey-state")).to_contain_text(already)
            _shoot(page, f"survey-{locale}-done")
            assert problems == [], problems
        finally:
            browser.close()

    with server.db.session(write=False) as session:
        survey = session.scalar(select(Survey).where(Survey.token == token))
        assert survey is not None and survey.status == "answered"
        assert (survey.timeliness, survey.solution, survey.attitude, survey.nps) == (5, 4, 5, 10)
        complaint = session.get(Complaint, survey.complaint_id)
        assert complaint is not None and complaint.stage == "archived"
