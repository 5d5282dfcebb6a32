"""The ledger as Excel: read back with openpyxl, formula-safe cells, an audit row per export;
the similar-case card shows what was paid."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.accounts.service import SYSTEM
from kesu.compensation import ledger
from kesu.web import i18n
from tests.compensation.conftest import approved
from tests.flows import make_staff

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_the_excel_export_reads_back_and_neutralises_formulas(client, db, clock, make_user):
    make_staff(db, clock)
    _, finance = make_user("fin_a", "finance_approver", None)
    _, auditor = make_user("audit_a", "auditor", None)
    first = approved(db, clock, "199.00")
    approved(db, clock, "0.10", method="coupon", assignee=None, approver=None)
    hostile = '=HYPERLINK("http://evil.example","x")'
    client.post(
        f"/api/v1/compensation/requests/{first}/paid", headers=finance, json={"reference": hostile}
    ).raise_for_status()
    answer = client.get(
        "/api/v1/compensation/ledger/export", params={"format": "xlsx"}, headers=auditor
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("入账编号", "赔付申请", "投诉编号", "团队", "赔付方式", "金额")
    coupon, refund = rows[1], rows[2]
    assert coupon[4] == "优惠券" and Decimal(str(coupon[5])) == Decimal("0.10")
    assert refund[4] == "退款" and refund[11] == "已支付" and refund[3] == "客服中心"
    assert refund[13] == "'" + hostile  # text, not a formula
    assert rows[-1][0] == "合计" and Decimal(str(rows[-1][5])) == Decimal("199.10")
    for line in sheet.iter_rows():
        for cell in line:
            assert cell.data_type != "f", cell.coordinate
    with db.session(write=False) as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "export")).all()
        assert [(a.entity, a.changes["rows"]) for a in audit] == [("compensation_ledger", 2)]
    english = client.get(
        "/api/v1/compensation/ledger/export",
        params={"method": "refund"},
        headers={**auditor, "Accept-Language": "en"},
    )
    rows = list(load_workbook(io.BytesIO(english.content)).active.iter_rows(values_only=True))
    assert rows[0][4] == "Method" and rows[1][4] == "Refund" and len(rows) == 3
    bad = client.get(
        "/api/v1/compensation/ledger/export", params={"format": "pdf"}, headers=auditor
    )
    assert bad.status_code == 422


def test_the_similar_case_card_says_what_was_paid(db, clock):
    make_staff(db, clock)
    paid = approved(db, clock, "199.00")
    approved(db, clock, "20.00", method="coupon", assignee=None, approver=None)
    with db.session() as session:
        ledger.mark_paid(session, clock, SYSTEM, paid, "P-1")
    with db.session(write=False) as session:
        ids = sorted(ledger.paid_words(session, [1, 2]))
        words = ledger.paid_words(session, ids)
        assert sorted(words.values()) == ["优惠券 20.00 元", "退款 199.00 元（已支付）"]
        token = i18n._current.set("en")
        try:
            english = sorted(ledger.paid_words(session, ids).values())
        finally:
            i18n._current.reset(token)
        assert english == ["Coupon 20.00 CNY", "Refund 199.00 CNY (paid)"]
