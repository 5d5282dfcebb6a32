"""The PDF and the Excel file of a report, from figures built by hand (no database): the PDF's
Chinese (or English) headings read back with pypdf, the workbook opened with openpyxl."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from kesu.errors import InvalidInput
from kesu.reports import pdf, xlsx
from kesu.reports.periods import month, parse, previous, quarter
from kesu.reports.service import KpiRow, Measure, PayoutRow, Report, Row

ZH_HEADINGS = (
    "月度投诉分析报告",
    "概览",
    "关键指标与目标",
    "趋势",
    "主要问题",
    "重复与升级投诉",
    "赔付",
    "整改措施",
)
EN_HEADINGS = ("Monthly complaint analysis report", "Overview", "Trends", "Compensation")


def sample(locale: str = "zh_CN") -> Report:
    rate = KpiRow("response_rate", "时限内响应率", 0.9, 9, 10, 0.95, "ratio", below_target=True)
    repeat = KpiRow("repeat_rate", "重复投诉率", 0.1, 1, 10, 0.05, "ratio", below_target=True)
    return Report(
        period=month(2026, 11),
        locale=locale,
        scope="全部团队",
        generated_at=datetime(2026, 12, 1, 1, tzinfo=UTC),
        total=10,
        by_channel=(Row("phone", "电话", 7), Row("web", "网页表单", 3)),
        kpis=(rate, repeat),
        trend_by="week",
        trend=(Row("2026-10-26", "2026-10-26", 2), Row("2026-11-02", "2026-11-02", 8)),
        categories=(Row("1", "产品质量", 6), Row("2", "=HYPERLINK(1)", 4)),
        products=(Row("x1", "降噪耳机 X1", 10),),
        repeat=(repeat,),
        payouts=(PayoutRow("refund", "退款", 2, Decimal("398.00")),),
        payout_total=Decimal("398.00"),
        measures=(Measure("TS20261101-0001", "产品质量", "加强出厂检测"),),
    )


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_pdf_carries_its_chinese_headings_in_noto_sans_cjk():
    data = pdf.render(sample())
    assert data.startswith(b"%PDF")
    text = text_of(data)
    for heading in ZH_HEADINGS:
        assert heading in text, heading
    assert "加强出厂检测" in text and "398.00" in text
    fonts = {
        str(font.get_object().get("/BaseFont"))
        for page in PdfReader(io.BytesIO(data)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("Noto-Sans-CJK-SC" in f for f in fonts), fonts


def test_the_pdf_speaks_english_when_asked():
    text = text_of(pdf.render(sample("en")))
    for heading in EN_HEADINGS:
        assert heading in text, heading
    assert "月度投诉分析报告" not in text


def test_the_pdf_fetches_nothing():
    with pytest.raises(pdf.Refused):
        pdf.refuse_fetch("http://169.254.169.254/latest")
    html = pdf.html(sample())
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_workbook_has_a_sheet_per_section_with_numbers_as_numbers():
    book = load_workbook(io.BytesIO(xlsx.render(sample())))
    assert book.sheetnames == [
        "概览",
        "关键指标与目标",
        "趋势",
        "主要问题",
        "重复与升级投诉",
        "赔付",
        "整改措施",
    ]
    overview = [list(r) for r in book["概览"].iter_rows(values_only=True)]
    assert ["投诉总数", 10] in overview
    assert ["电话", 7] in overview
    kpi = list(book["关键指标与目标"].iter_rows(values_only=True))
    assert kpi[0][:4] == ("指标", "代码", "数值", "目标")
    assert kpi[1][2] == pytest.approx(0.9) and kpi[1][7] == "未达标"
    money = list(book["赔付"].iter_rows(values_only=True))
    assert money[1] == ("退款", 2, 398) and isinstance(money[1][2], float | int)
    top = list(book["主要问题"].iter_rows(values_only=True))
    assert ("类别", "'=HYPERLINK(1)", 4) in top  # a formula-looking name stays text


def test_the_workbook_headers_follow_the_language():
    book = load_workbook(io.BytesIO(xlsx.render(sample("en"))))
    assert book.sheetnames[0] == "Overview"
    assert next(book["Overview"].iter_rows(values_only=True))[0] == "Item"


def test_periods():
    today = date(2026, 11, 23)
    assert parse("monthly", "2026-11", today) == month(2026, 11)
    assert parse("quarterly", "2026-Q4", today).end == date(2027, 1, 1)
    assert previous("monthly", date(2026, 1, 5)) == month(2025, 12)
    assert previous("quarterly", date(2026, 1, 5)) == quarter(2025, 4)
    for bad in ("2026-12", "2026-13", "2026-00", "26-11", "２０２６-11", "", "1999-01", "2026-Q4"):
        with pytest.raises(InvalidInput) as caught:
            parse("monthly", bad, today)
        assert caught.value.field == "period"
    for bad in ("2027-Q1", "2026-Q5", "2026-11"):
        with pytest.raises(InvalidInput):
            parse("quarterly", bad, today)
