"""Reports: the figures of a period gathered once (``gather`` → ``Report``), rendered twice
(``kesu.reports.pdf``, ``kesu.reports.xlsx``).

Every KPI, count and trend comes from ``kesu.analytics.service`` (the rollups), so a report
says what the dashboard says and costs the same at any size; compensation is summed from
``compensation_payouts`` by ``approved_at`` (indexed), corrective actions are the ``measures``
output of the 执行整改 stage of the period's complaints (at most ``MEASURES_MAX``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kesu.accounts.models import Team
from kesu.analytics import service as analytics
from kesu.compensation.methods import METHODS
from kesu.compensation.models import CompensationPayout
from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.reports.periods import Period
from kesu.taxonomy.models import Category
from kesu.web import i18n
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

TOP_N = 10
MEASURES_MAX = 30
KIND_TITLES = {"monthly": N_("月度投诉分析报告"), "quarterly": N_("季度投诉分析报告")}
SECTIONS = {
    "overview": N_("概览"),
    "kpis": N_("关键指标与目标"),
    "trend": N_("趋势"),
    "top": N_("主要问题"),
    "repeat": N_("重复与升级投诉"),
    "compensation": N_("赔付"),
    "measures": N_("整改措施"),
}


@contextmanager
def in_locale(locale: str) -> Iterator[None]:
    """Translates for ``locale`` inside the block (a scheduled report has no request)."""
    token = i18n._current.set(i18n.normalize(locale) or i18n.DEFAULT_LOCALE)
    try:
        yield
    finally:
        i18n._current.reset(token)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: float


@dataclass(frozen=True)
class KpiRow:
    code: str
    label: str
    value: float | None
    numerator: float
    denominator: float
    target: float | None
    unit: str
    below_target: bool


@dataclass(frozen=True)
class PayoutRow:
    method: str
    label: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Measure:
    number: str
    category: str
    text: str


@dataclass(frozen=True)
class Report:
    period: Period
    locale: str
    scope: str  # the team's name, or 全部团队
    generated_at: datetime
    total: int
    by_channel: tuple[Row, ...]
    kpis: tuple[KpiRow, ...]
    trend_by: str  # week | month
    trend: tuple[Row, ...]
    categories: tuple[Row, ...]
    products: tuple[Row, ...]
    repeat: tuple[KpiRow, ...]  # the repeat, reopen and escalation KPIs
    payouts: tuple[PayoutRow, ...]
    payout_total: Decimal
    measures: tuple[Measure, ...]

    @property
    def title(self) -> str:
        return _(KIND_TITLES[self.period.kind])

    @property
    def filename_stem(self) -> str:
        return f"kesu-report-{self.period.code}"


def _summed(points: list[Any], kind: str | None = None) -> list[Row]:
    """Sums a series over its periods per key; ``kind`` names codes (``channel``) by label."""
    from kesu.web.templating import label

    values: dict[str, float] = defaultdict(float)
    labels: dict[str, str] = {}
    for point in points:
        values[point.key] += point.value
        shown = point.label if point.label and point.label != point.key else None
        labels.setdefault(point.key, shown or (label(kind, point.key) if kind else point.key))
    rows = [Row(k, labels[k] or k, v) for k, v in values.items()]
    return sorted(rows, key=lambda r: (-r.value, r.label))


def _kpi_row(kpi: Any) -> KpiRow:
    label = analytics.NAMES.get(kpi.code)
    return KpiRow(
        code=kpi.code,
        label=_(label) if label else kpi.code,
        value=kpi.value,
        numerator=kpi.numerator,
        denominator=kpi.denominator,
        target=kpi.target,
        unit=kpi.unit,
        below_target=bool(kpi.below_target),
    )


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), LOCAL_TZ)


def payouts(
    session: Session, start: date, end: date, team_id: int | None
) -> tuple[list[PayoutRow], Decimal]:
    """Compensation approved in [start, end) (local dates), by method."""
    query = (
        select(
            CompensationPayout.method,
            func.count(CompensationPayout.id),
            func.coalesce(func.sum(CompensationPayout.amount), 0),
        )
        .where(
            CompensationPayout.approved_at >= _utc(start),
            CompensationPayout.approved_at < _utc(end),
        )
        .group_by(CompensationPayout.method)
    )
    if team_id is not None:
        query = query.where(CompensationPayout.team_id == team_id)
    rows = [
        PayoutRow(
            method,
            _(METHODS[method]) if method in METHODS else method,
            int(count),
            Decimal(str(amount)).quantize(Decimal("0.01")),
        )
        for method, count, amount in session.execute(query)
    ]
    order = list(METHODS)
    rows.sort(key=lambda r: order.index(r.method) if r.method in order else len(order))
    return rows, sum((r.amount for r in rows), Decimal("0.00"))


def measures(session: Session, start: date, end: date, team_id: int | None) -> list[Measure]:
    """The corrective and preventive measures recorded on the period's complaints (newest
    ``MEASURES_MAX``), read through the partial index ``ix_complaints_measures_received``."""
    from kesu.reports.models import HAS_MEASURES
    from kesu.web.templating import loc

    dialect = session.get_bind().dialect.name
    value = Complaint.outputs["measures"].as_string()
    query = (
        select(Complaint.number, Category, value)
        .outerjoin(Category, Category.id == Complaint.category_id)
        .where(
            text(HAS_MEASURES.get(dialect, HAS_MEASURES["sqlite"])),
            Complaint.received_at >= _utc(start),
            Complaint.received_at < _utc(end),
        )
        .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        .limit(MEASURES_MAX)
    )
    if team_id is not None:
        query = query.where(Complaint.team_id == team_id)
    return [
        Measure(number, loc(category) if category is not None else "", str(found))
        for number, category, found in session.execute(query)
        if found
    ]


def gather(
    session: Session,
    period: Period,
    *,
    locale: str,
    now: datetime,
    team_id: int | None = None,
) -> Report:
    """Every figure of the report, in ``locale``'s words."""
    with in_locale(locale):
        filters = analytics.Filters(team_id=team_id)
        window: dict[str, Any] = {"start": period.start, "end": period.end, "filters": filters}
        monthly = analytics.series(session, metric="complaints", by="month", group=None, **window)
        total = round(sum(p.value for p in monthly))
        by_channel = _summed(
            analytics.series(session, metric="complaints", by="month", group="channel", **window),
            "channel",
        )
        trend_by = "week" if period.kind == "monthly" else "month"
        trend_points = (
            monthly
            if trend_by == "month"
            else analytics.series(session, metric="complaints", by="week", group=None, **window)
        )
        # A week that began before the period is labelled with the period's first day.
        trend = [
            Row(day.isoformat(), day.isoformat(), p.value)
            for p in sorted(trend_points, key=lambda p: p.period)
            if (day := max(p.period, period.start))
        ]
        categories = _summed(
            analytics.series(session, metric="complaints", by="month", group="category", **window)
        )[:TOP_N]
        products = _summed(
            analytics.series(session, metric="complaints", by="month", group="product", **window)
        )[:TOP_N]
        found = analytics.kpis(session, **window)
        kpi_rows = [_kpi_row(found[code]) for code in analytics.KPI_CODES if code in found]
        repeat = [
            r for r in kpi_rows if r.code in ("repeat_rate", "reopen_rate", "escalation_rate")
        ]
        payout_rows, payout_total = payouts(session, period.start, period.end, team_id)
        team = session.get(Team, team_id) if team_id is not None else None
        return Report(
            period=period,
            locale=i18n.current_locale(),
            scope=team.name if team is not None else _("全部团队"),
            generated_at=now,
            total=total,
            by_channel=tuple(by_channel),
            kpis=tuple(kpi_rows),
            trend_by=trend_by,
            trend=tuple(trend),
            categories=tuple(categories),
            products=tuple(products),
            repeat=tuple(repeat),
            payouts=tuple(payout_rows),
            payout_total=payout_total,
            measures=tuple(measures(session, period.start, period.end, team_id)),
        )


def value_text(row: KpiRow, value: float | None = None) -> str:
    """A KPI's value as shown: ``96.2 %``, ``13.5 h``, ``—`` when there is nothing to divide."""
    shown = row.value if value is None else value
    if shown is None:
        return "—"
    if row.unit == "ratio":
        return f"{shown * 100:.1f} %"
    if row.unit == "hours":
        return f"{shown:.1f} h"
    if row.unit == "CNY":
        return f"¥{shown:,.2f}"
    if row.unit == "score10":
        return f"{shown:.1f} / 10"
    if row.unit == "nps":
        return f"{shown:.0f}"
    if row.unit == "per_10k_orders":
        return _("%(value).2f / 万单") % {"value": shown}
    return f"{shown:,.2f}"


def target_text(row: KpiRow) -> str:
    return "—" if row.target is None else value_text(row, row.target)
