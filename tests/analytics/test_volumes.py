"""Business volumes: CSV and Excel import (all rows or none, every bad row named), the
upload page, and the pro-rata month in a range."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from kesu.analytics import volumes
from kesu.analytics.models import BusinessVolume
from kesu.analytics.service import Filters
from tests.web.conftest import csrf_of

CSV = "期间,产品线,地区,订单量\n2026-11,降噪耳机 X1,上海,120000\n2026-11-05,智能手表 S3,,3500\n"
BAD = "period,product,region,orders\n2026-11,耳机,,10\n2026-13,耳机,,10\n2026-11,,,x\n"


def test_csv_rows_and_errors() -> None:
    rows = volumes.read_csv(CSV.encode("utf-8-sig"))
    assert [(r.kind, r.period_start, r.product, r.region, r.orders) for r in rows] == [
        ("month", date(2026, 11, 1), "降噪耳机 X1", "上海", 120000),
        ("day", date(2026, 11, 5), "智能手表 S3", "", 3500),
    ]
    with pytest.raises(volumes.VolumeErrors) as caught:
        volumes.read_csv(BAD.encode())
    assert [(e.row, e.field) for e in caught.value.errors] == [
        (2, "period"),
        (3, "product"),
        (3, "orders"),
    ]
    with pytest.raises(volumes.VolumeErrors) as caught:
        volumes.read_csv(b"product,orders\nx,1\n")
    assert [e.field for e in caught.value.errors] == ["period"]
    assert volumes.read_csv(CSV.encode("gb18030"))[0].product == "降噪耳机 X1"


def test_excel_rows() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["期间", "产品线", "地区", "订单量"])
    sheet.append(["2026-11", "降噪耳机 X1", "北京", 900])
    sheet.append([date(2026, 11, 7), "智能手表 S3", None, 12])
    buffer = io.BytesIO()
    book.save(buffer)
    rows = volumes.read_upload("v.xlsx", buffer.getvalue())
    assert [(r.period, r.orders) for r in rows] == [("2026-11", 900), ("2026-11-07", 12)]
    with pytest.raises(volumes.VolumeErrors):
        volumes.read_upload("v.xlsx", b"PK\x03\x04 not a workbook")


def test_a_month_counts_pro_rata(db: Any, clock: Any) -> None:
    with db.session() as session:
        volumes.store(session, clock, volumes.read_csv(CSV.encode()), "t", "test")
    with db.session(write=False) as session:
        half = volumes.orders(session, date(2026, 11, 1), date(2026, 11, 16), Filters(), None)
        assert half[None] == pytest.approx(120000 / 2 + 3500)
        weeks = volumes.orders(
            session, date(2026, 11, 2), date(2026, 11, 16), Filters(), "product", "week"
        )
        assert weeks[(date(2026, 11, 2), "智能手表 S3")] == 3500
        assert weeks[(date(2026, 11, 9), "降噪耳机 X1")] == pytest.approx(120000 * 7 / 30)


def test_the_upload_page_imports_all_or_nothing(signed_in: Any, db: Any) -> None:
    browser = signed_in("boss", role="manager", team=None)
    page = browser.get("/analytics/volumes")
    assert page.status_code == 200
    token = csrf_of(page.text)
    bad = browser.post(
        "/analytics/volumes",
        data={"csrf_token": token},
        files={"file": ("v.csv", BAD.encode(), "text/csv")},
    )
    assert bad.status_code == 422
    assert "2026-13" not in bad.text and "period" in bad.text  # the report names the field
    with db.session(write=False) as session:
        assert session.scalar(select(func.count(BusinessVolume.id))) == 0  # nothing half-done
    good = browser.post(
        "/analytics/volumes",
        data={"csrf_token": token},
        files={"file": ("v.csv", CSV.encode(), "text/csv")},
    )
    assert good.status_code == 200 and "降噪耳机 X1" in good.text
    with db.session(write=False) as session:
        assert session.scalar(select(func.count(BusinessVolume.id))) == 2
    assert browser.get("/analytics/volumes/template.csv").status_code == 200


def test_the_targets_page_saves(signed_in: Any, db: Any) -> None:
    browser = signed_in("root", role="admin", team=None)
    page = browser.get("/admin/kpi-targets")
    assert page.status_code == 200 and 'value="0.95"' in page.text
    saved = browser.post(
        "/admin/kpi-targets",
        data={
            "csrf_token": csrf_of(page.text),
            "op_csat": ">=",
            "value_csat": "8",
            "op_response_rate": ">",
            "value_response_rate": "0.95",
        },
        follow_redirects=True,
    )
    assert saved.status_code == 200 and 'value="8"' in saved.text
    wrong = browser.post(
        "/admin/kpi-targets",
        data={"csrf_token": csrf_of(page.text), "value_csat": "八"},
        follow_redirects=True,
    )
    assert wrong.status_code == 200 and 'value="8"' in wrong.text  # unchanged, error flashed
