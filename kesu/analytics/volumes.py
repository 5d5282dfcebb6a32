"""Business volumes: orders per period (a day or a month) × product × region, the complaint
rate's denominator. Imported from CSV or Excel (all rows or none) or pushed by the API
(``POST /api/v1/analytics/volumes``); a row with the same period, product and region replaces
the stored one (upsert).

Columns: ``period`` (``2026-11`` for a month, ``2026-11-05`` for a day), ``product``,
``region`` (empty: all regions), ``orders`` (a whole number ≥ 0). Headers may be English or
Chinese (期间/产品线/地区/订单量).
"""

from __future__ import annotations

import calendar
import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.analytics.models import BusinessVolume
from kesu.clock import Clock
from kesu.web.i18n import gettext as _

if TYPE_CHECKING:
    from kesu.analytics.service import Filters

MAX_ROWS = 20_000
MAX_ORDERS = 10**12
HEADERS = {
    "period": "period",
    "期间": "period",
    "周期": "period",
    "日期": "period",
    "product": "product",
    "product_line": "product",
    "产品": "product",
    "产品线": "product",
    "region": "region",
    "地区": "region",
    "区域": "region",
    "orders": "orders",
    "订单量": "orders",
    "订单数": "orders",
}
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class VolumeRow:
    kind: str  # day | month
    period_start: date
    product: str
    region: str
    orders: int

    @property
    def period(self) -> str:
        if self.kind == "month":
            return self.period_start.strftime("%Y-%m")
        return self.period_start.isoformat()


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row (the header is row 0 in CSV/Excel terms: line row + 1)
    field: str
    message: str


class VolumeErrors(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(f"{e.row}:{e.field}:{e.message}" for e in errors[:5]))
        self.errors = errors


def period_end(kind: str, start: date) -> date:
    if kind == "day":
        return start + timedelta(days=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start + timedelta(days=days)


def parse_period(text: str) -> tuple[str, date]:
    """``2026-11`` → a month, ``2026-11-05`` → a day; ValueError otherwise."""
    text = text.strip()
    if m := MONTH.match(text):
        return "month", date(int(m[1]), int(m[2]), 1)
    if m := DAY.match(text):
        return "day", date(int(m[1]), int(m[2]), int(m[3]))
    raise ValueError(text)


def check_row(number: int, raw: dict[str, Any]) -> tuple[VolumeRow | None, list[RowError]]:
    """One row as given (strings or numbers) → a VolumeRow, or the errors naming its fields."""
    errors: list[RowError] = []
    period = raw.get("period")
    kind, start = "month", date(2000, 1, 1)
    if isinstance(period, date):
        kind, start = "day", period if not hasattr(period, "hour") else period.date()  # type: ignore[attr-defined]
    else:
        try:
            kind, start = parse_period(str(period or ""))
            if not 2000 <= start.year <= 2100:
                raise ValueError(period)
        except ValueError:
            errors.append(RowError(number, "period", _("期间应为 YYYY-MM 或 YYYY-MM-DD")))
    product = str(raw.get("product") or "").strip()
    if not product:
        errors.append(RowError(number, "product", _("产品线不能为空")))
    elif len(product) > 128:
        errors.append(RowError(number, "product", _("产品线过长（最多 128 字）")))
    region = str(raw.get("region") or "").strip()
    if len(region) > 64:
        errors.append(RowError(number, "region", _("地区过长（最多 64 字）")))
    orders_raw = raw.get("orders")
    orders = -1
    if isinstance(orders_raw, bool):
        orders = -1
    elif isinstance(orders_raw, int):
        orders = orders_raw
    elif isinstance(orders_raw, float) and orders_raw.is_integer():
        orders = int(orders_raw)
    elif (
        isinstance(orders_raw, str)
        and orders_raw.strip().isascii()
        and orders_raw.strip().isdigit()
    ):
        orders = int(orders_raw.strip())
    if not 0 <= orders <= MAX_ORDERS:
        errors.append(RowError(number, "orders", _("订单量应为不小于 0 的整数")))
    if errors:
        return None, errors
    return VolumeRow(kind, start, product, region, orders), []


def parse_table(rows: list[list[Any]]) -> list[VolumeRow]:
    """A header row then data rows (CSV or a sheet) → VolumeRows; VolumeErrors lists every
    bad row (and nothing is stored)."""
    if not rows:
        raise VolumeErrors([RowError(0, "file", _("文件为空"))])
    header = [HEADERS.get(str(h or "").strip().lower(), "") for h in rows[0]]
    missing = [name for name in ("period", "product", "orders") if name not in header]
    if missing:
        raise VolumeErrors([RowError(0, name, _("缺少这一列")) for name in missing])
    data = [r for r in rows[1:] if any(str(c or "").strip() for c in r)]
    if len(data) > MAX_ROWS:
        raise VolumeErrors([RowError(0, "file", _("行数过多（最多 20000 行）"))])
    out: list[VolumeRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, date, str, str], int] = {}
    for number, cells in enumerate(data, start=1):
        raw = {name: cells[i] if i < len(cells) else None for i, name in enumerate(header) if name}
        row, bad = check_row(number, raw)
        errors += bad
        if row is not None:
            key = (row.kind, row.period_start, row.product, row.region)
            if key in seen:
                errors.append(RowError(number, "period", _("与第 %(n)s 行重复") % {"n": seen[key]}))
            seen[key] = number
            out.append(row)
    if errors:
        raise VolumeErrors(errors)
    return out


def read_csv(data: bytes) -> list[VolumeRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise VolumeErrors([RowError(0, "file", _("无法识别文件编码（请用 UTF-8）"))]) from None
    if "\x00" in text:
        raise VolumeErrors([RowError(0, "file", _("文件内容无效"))])
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise VolumeErrors([RowError(0, "file", _("CSV 格式错误"))]) from None
    return parse_table(rows)


def read_xlsx(data: bytes) -> list[VolumeRow]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = [
            list(r)
            for r, _n in zip(sheet.iter_rows(values_only=True), range(MAX_ROWS + 2), strict=False)
        ]
        book.close()
    except Exception:  # any unreadable upload is the user's error, never a 500
        raise VolumeErrors([RowError(0, "file", _("无法读取 Excel 文件"))]) from None
    for r in rows:
        for i, cell in enumerate(r):
            if hasattr(cell, "hour") and hasattr(cell, "date"):
                r[i] = cell.date()  # a date cell: a day row
    return parse_table(rows)


def read_upload(filename: str, data: bytes) -> list[VolumeRow]:
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        return read_xlsx(data)
    return read_csv(data)


def store(session: Session, clock: Clock, rows: list[VolumeRow], who: str, source: str) -> int:
    """Upserts the rows (the caller commits); returns how many."""
    now = clock.now()
    if not rows:
        return 0
    existing = {
        (v.kind, v.period_start, v.product, v.region): v
        for v in session.scalars(
            select(BusinessVolume).where(
                BusinessVolume.period_start.in_({r.period_start for r in rows})
            )
        )
    }
    for row in rows:
        found = existing.get((row.kind, row.period_start, row.product, row.region))
        if found is None:
            found = BusinessVolume(
                kind=row.kind,
                period_start=row.period_start,
                product=row.product,
                region=row.region,
                orders=row.orders,
            )
            session.add(found)
            existing[(row.kind, row.period_start, row.product, row.region)] = found
        found.orders = row.orders
        found.source = source
        found.updated_at = now
        found.updated_by = who[:128]
    session.flush()
    return len(rows)


def orders(
    session: Session,
    start: date,
    end: date,
    filters: Filters,
    dim: str | None,
    by: str | None = None,
) -> dict[Any, float]:
    """Orders in local days [start, end): a month's orders count in proportion to the days of
    it inside the range. Keyed by ``dim`` (product or region; None: one total) — or by
    (period, key) when ``by`` is given (day/week/month periods)."""
    from kesu.analytics.service import period_of

    query = select(BusinessVolume).where(
        BusinessVolume.period_start < end,
        BusinessVolume.period_start >= start - timedelta(days=31),
    )
    if filters.product is not None:
        query = query.where(BusinessVolume.product == filters.product)
    if filters.region is not None:
        query = query.where(BusinessVolume.region == filters.region)
    out: dict[Any, float] = defaultdict(float)
    for volume in session.scalars(query):
        first, last = volume.period_start, period_end(volume.kind, volume.period_start)
        lo, hi = max(first, start), min(last, end)
        if hi <= lo:
            continue
        key = getattr(volume, dim) if dim in ("product", "region") else None
        length = (last - first).days
        if by is None:
            out[key] += volume.orders * (hi - lo).days / length
            continue
        day = lo
        while day < hi:  # spread over the periods of the series
            period = period_of(day, by)
            upto = min(hi, _next_period(period, by))
            out[(period, key)] += volume.orders * (upto - day).days / length
            day = upto
    return dict(out)


def _next_period(period: date, by: str) -> date:
    if by == "week":
        return period + timedelta(days=7)
    if by == "month":
        return period_end("month", period)
    return period + timedelta(days=1)
