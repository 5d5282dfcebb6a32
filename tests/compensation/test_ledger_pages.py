"""The ledger page: filters, totals, budgets with their warnings, the budget form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.compensation.conftest import approved
from tests.flows import make_staff
from tests.web.conftest import HTML, csrf_of, login

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def browser(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers=HTML) as client:
        yield client


def test_the_ledger_page_shows_payouts_totals_and_budget_warnings(browser, db, clock, make_user):
    make_staff(db, clock)
    make_user("fin_a", "finance_approver", None)
    approved(db, clock, "850.00")
    approved(db, clock, "20.00", method="coupon", assignee=None, approver=None)
    assert login(browser, "fin_a").status_code == 303
    page = browser.get("/compensation/ledger")
    assert page.status_code == 200
    assert "赔付台账" in page.text and "870.00" in page.text and "lead_a" in page.text
    assert "快速理赔（按规则自动批准）" in page.text
    saved = browser.post(
        "/compensation/ledger/budgets",
        data={
            "csrf_token": csrf_of(page.text),
            "period": "2026-11",
            "team": "service",
            "amount": "1,000.00",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    page = browser.get(saved.headers["location"])
    assert "即将用完" in page.text and "85.0%" in page.text
    bad = browser.post(
        "/compensation/ledger/budgets",
        data={"csrf_token": csrf_of(page.text), "period": "2026-11", "amount": "lots"},
    )
    assert bad.status_code == 422 and "请填写金额" in bad.text
    filtered = browser.get("/compensation/ledger", params={"method": "coupon"})
    assert "20.00" in filtered.text and "850.00 CNY" not in filtered.text
    assert "/api/v1/compensation/ledger/export?format=xlsx&amp;method=coupon" in filtered.text
    wrong = browser.get("/compensation/ledger", params={"team": "nope"})
    assert wrong.status_code == 422 and "未知的团队" in wrong.text
    english = browser.get("/compensation/ledger", headers={"Accept-Language": "en"})
    assert "Compensation ledger" in english.text


def test_the_ledger_page_needs_the_ledger_permission(browser, db, clock, make_user):
    make_user("agent_x", "agent", "service")
    assert login(browser, "agent_x").status_code == 303
    assert browser.get("/compensation/ledger").status_code == 403
    assert "/compensation/ledger" not in browser.get("/").text
