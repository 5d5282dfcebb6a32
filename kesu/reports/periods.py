"""Report periods: a month (``2026-11``) or a quarter (``2026-Q4``), as local dates [start, end)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from kesu.errors import InvalidInput
from kesu.web.i18n import gettext as _

KINDS = ("monthly", "quarterly")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
FIRST_YEAR = 2000


@dataclass(frozen=True)
class Period:
    kind: str  # monthly | quarterly
    code: str  # 2026-11 | 2026-Q4
    start: date  # first local day
    end: date  # the day after the last one

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    @property
    def months(self) -> int:
        return 1 if self.kind == "monthly" else 3


def _next_month(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


def month(year: int, number: int) -> Period:
    return Period(
        "monthly", f"{year:04d}-{number:02d}", date(year, number, 1), _next_month(year, number)
    )


def quarter(year: int, number: int) -> Period:
    first = 3 * (number - 1) + 1
    return Period(
        "quarterly", f"{year:04d}-Q{number}", date(year, first, 1), _next_month(year, first + 2)
    )


def parse(kind: str, value: str, today: date) -> Period:
    """The period named by ``value``; a malformed or future one is a 422 on ``period``."""
    text = (value or "").strip()
    pattern = _MONTH if kind == "monthly" else _QUARTER
    found = pattern.match(text) if text.isascii() else None
    example = "2026-11" if kind == "monthly" else "2026-Q4"
    if found is None:
        raise InvalidInput(
            _("报告期格式不对：%(value)s（应为 %(example)s）")
            % {"value": text[:20], "example": example},
            field="period",
        )
    year, number = int(found.group(1)), int(found.group(2))
    if kind == "monthly" and not 1 <= number <= 12:
        raise InvalidInput(_("月份应在 01 到 12 之间：%(value)s") % {"value": text}, field="period")
    if year < FIRST_YEAR:
        raise InvalidInput(_("报告期太早：%(value)s") % {"value": text}, field="period")
    period = month(year, number) if kind == "monthly" else quarter(year, number)
    if period.start > today:
        raise InvalidInput(_("报告期尚未开始：%(value)s") % {"value": text}, field="period")
    return period


def containing(kind: str, day: date) -> Period:
    if kind == "monthly":
        return month(day.year, day.month)
    return quarter(day.year, (day.month - 1) // 3 + 1)


def previous(kind: str, day: date) -> Period:
    """The last period that ended before ``day``'s own period began."""
    current = containing(kind, day)
    last_day = date.fromordinal(current.start.toordinal() - 1)
    return containing(kind, last_day)
