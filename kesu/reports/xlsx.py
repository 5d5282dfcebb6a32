"""The report as an Excel workbook (openpyxl): one sheet per section, headers in the report's
language, numbers as numbers (counts as integers, rates as the KPI's value, amounts as
decimals with two places)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from kesu.reports.service import SECTIONS, Report, Row, in_locale
from kesu.web.i18n import gettext as _

BOLD = Font(bold=True)
RED = Font(bold=True, color="B00020")
HEAD = PatternFill("solid", fgColor="DDE6F3")


def _text(value: str) -> str:
    """Cells that begin like a formula are written as text (category names are admin data)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _sheet(book: Workbook, section: str, headers: Sequence[str]) -> Worksheet:
    sheet = book.create_sheet(_(SECTIONS[section])[:31])
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = BOLD
        cell.fill = HEAD
    for index, header in enumerate(headers):
        sheet.column_dimensions[chr(ord("A") + index)].width = max(12, 2 * len(header) + 4)
    return sheet


def _rows(sheet: Worksheet, rows: Iterable[Sequence[Any]]) -> None:
    for row in rows:
        sheet.append([_text(v) if isinstance(v, str) else v for v in row])


def _count(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _labelled(rows: Iterable[Row]) -> list[tuple[str, int | float]]:
    return [(r.label, _count(r.value)) for r in rows]


def render(report: Report) -> bytes:
    with in_locale(report.locale):
        book = Workbook()
        first = book.active
        assert first is not None
        book.remove(first)

        sheet = _sheet(book, "overview", [_("项目"), _("数值")])
        _rows(
            sheet,
            [
                (_("报告"), report.title),
                (_("报告期"), report.period.code),
                (_("开始日期"), report.period.start.isoformat()),
                (_("结束日期（不含）"), report.period.end.isoformat()),
                (_("范围"), report.scope),
                (_("投诉总数"), report.total),
            ],
        )
        sheet.append([])
        sheet.append([_("渠道"), _("投诉数")])
        sheet.cell(sheet.max_row, 1).font = BOLD
        sheet.cell(sheet.max_row, 2).font = BOLD
        _rows(sheet, _labelled(report.by_channel))

        sheet = _sheet(
            book,
            "kpis",
            [
                _("指标"),
                _("代码"),
                _("数值"),
                _("目标"),
                _("分子"),
                _("分母"),
                _("单位"),
                _("达标"),
            ],
        )
        for k in report.kpis:
            status = (
                _("未达标")
                if k.below_target
                else ("" if k.target is None or k.value is None else _("达标"))
            )
            _rows(
                sheet,
                [(k.label, k.code, k.value, k.target, k.numerator, k.denominator, k.unit, status)],
            )
            if k.below_target:
                for cell in sheet[sheet.max_row]:
                    cell.font = RED

        period_header = _("周起始日") if report.trend_by == "week" else _("月份")
        sheet = _sheet(book, "trend", [period_header, _("投诉数")])
        _rows(sheet, _labelled(report.trend))

        sheet = _sheet(book, "top", [_("维度"), _("名称"), _("投诉数")])
        _rows(sheet, [(_("类别"), *row) for row in _labelled(report.categories)])
        _rows(sheet, [(_("产品"), *row) for row in _labelled(report.products)])

        sheet = _sheet(book, "repeat", [_("指标"), _("数值"), _("投诉数"), _("分母"), _("单位")])
        _rows(
            sheet, [(k.label, k.value, k.numerator, k.denominator, k.unit) for k in report.repeat]
        )

        sheet = _sheet(book, "compensation", [_("赔付方式"), _("笔数"), _("金额（元）")])
        _rows(sheet, [(p.label, p.count, p.amount) for p in report.payouts])
        _rows(sheet, [(_("合计"), sum(p.count for p in report.payouts), report.payout_total)])
        for row in sheet.iter_rows(min_row=2, min_col=3, max_col=3):
            row[0].number_format = "#,##0.00"

        sheet = _sheet(book, "measures", [_("投诉编号"), _("类别"), _("整改及预防措施")])
        _rows(sheet, [(m.number, m.category, m.text) for m in report.measures])

        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
