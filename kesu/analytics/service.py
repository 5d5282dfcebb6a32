"""KPIs and series (contract 3 of issues 11/12: the dashboard and the reports call these).

Every KPI is defined once in docs/analytics.md and computed here from sums of the complaint
*facts* (kesu.analytics.facts): read from the rollups (kesu.analytics.rollups), never by
scanning the complaints table. Compensation is read from ``compensation_payouts`` by
``approved_at`` and the complaint rate's denominator from the business volumes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.analytics import facts as F
from kesu.web.i18n import N_

Period = Literal["day", "week", "month"]
GROUPS: tuple[str, ...] = ("category", "channel", "region", "team", "handler", "product")
GROUP_DIM = {
    "category": "category_id",
    "channel": "channel",
    "region": "region",
    "team": "team_id",
    "handler": "handler_id",
    "product": "product",
}
KPI_CODES: tuple[str, ...] = (
    "response_rate",
    "resolution_rate",
    "csat",
    "nps",
    "fcr",
    "handling_time_avg",
    "handling_time_p90",
    "repeat_rate",
    "reopen_rate",
    "escalation_rate",
    "sla_breach_rate",
    "compensation_paid",
    "complaint_rate",
)
METRICS: tuple[str, ...] = ("complaints", *KPI_CODES)
NAMES: dict[str, str] = {
    "complaints": N_("投诉量"),
    "response_rate": N_("时限内响应率"),
    "resolution_rate": N_("解决率"),
    "csat": N_("满意度"),
    "nps": N_("净推荐值"),
    "fcr": N_("首次解决率"),
    "handling_time_avg": N_("平均处理时长"),
    "handling_time_p90": N_("处理时长 P90"),
    "repeat_rate": N_("重复投诉率"),
    "reopen_rate": N_("重开率"),
    "escalation_rate": N_("升级率"),
    "sla_breach_rate": N_("超时率"),
    "compensation_paid": N_("赔付金额"),
    "complaint_rate": N_("万单投诉率"),
}
UNITS: dict[str, str] = {
    "complaints": "count",
    "response_rate": "ratio",
    "resolution_rate": "ratio",
    "csat": "score10",
    "nps": "nps",
    "fcr": "ratio",
    "handling_time_avg": "hours",
    "handling_time_p90": "hours",
    "repeat_rate": "ratio",
    "reopen_rate": "ratio",
    "escalation_rate": "ratio",
    "sla_breach_rate": "ratio",
    "compensation_paid": "CNY",
    "complaint_rate": "per_10k_orders",
}
# A target is the condition a good value meets: (operator, value). Admins edit them
# (kesu.analytics.targets); these are the defaults of docs/analytics.md.
DEFAULT_TARGETS: dict[str, tuple[str, float]] = {
    "response_rate": (">", 0.95),
    "resolution_rate": (">=", 0.80),
    "csat": (">=", 7.0),
}
OPERATORS = (">", ">=", "<", "<=")
MAX_DAYS = 3 * 366 + 1  # the longest range a request may ask for


@dataclass(frozen=True)
class Filters:
    team_id: int | None = None
    category_id: int | None = None  # includes its descendants
    channel: str | None = None
    region: str | None = None
    product: str | None = None

    def dims(self) -> set[str]:
        wanted = {
            "team_id": self.team_id,
            "category_id": self.category_id,
            "channel": self.channel,
            "region": self.region,
            "product": self.product,
        }
        return {name for name, value in wanted.items() if value is not None}


@dataclass(frozen=True)
class Kpi:
    code: str
    value: float | None
    numerator: float
    denominator: float
    target: float | None
    unit: str
    below_target: bool
    operator: str | None = None  # the target's condition: ">", ">=", "<", "<="


@dataclass(frozen=True)
class Point:
    period: date
    key: str
    label: str
    value: float


@dataclass(frozen=True)
class Rate:
    """The complaint rate of one product (or region): complaints per 10,000 orders."""

    key: str
    label: str
    complaints: int
    orders: float
    value: float | None


@dataclass
class Sums:
    """Sums of the fact measures (and the extras not in the rollups)."""

    m: list[int] = field(default_factory=lambda: [0] * len(F.MEASURES))
    paid: Decimal = Decimal("0")
    payouts: int = 0
    orders: float = 0.0

    def add(self, measures: Sequence[int]) -> None:
        for i, value in enumerate(measures):
            self.m[i] += int(value or 0)

    def __getitem__(self, name: str) -> int:
        return self.m[F.INDEX[name]]


class AnalyticsError(ValueError):
    """A metric, group or range the service does not know (the API turns it into a 422)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


# -- the public interface ----------------------------------------------------------------


def kpis(session: Session, *, start: date, end: date, filters: Filters) -> dict[str, Kpi]:
    """Each KPI of the complaints received on local days [start, end) matching ``filters``."""
    check_range(start, end)
    sums = Sums()
    for _day, _key, measures in fact_rows(session, start, end, filters, None):
        sums.add(measures)
    sums.paid, sums.payouts = _payouts_total(session, start, end, filters)
    sums.orders = sum(_volumes(session, start, end, filters, None).values())
    chosen = targets(session)
    return {code: _kpi(code, sums, chosen.get(code)) for code in KPI_CODES}


def series(
    session: Session,
    *,
    metric: str,
    by: str,
    group: str | None,
    start: date,
    end: date,
    filters: Filters,
) -> list[Point]:
    """``metric`` per period (day, ISO week starting Monday, month) and group key; periods
    where the metric has no value (no denominator) are left out."""
    check_range(start, end)
    if metric not in METRICS:
        raise AnalyticsError("metric", "unknown metric")
    if by not in ("day", "week", "month"):
        raise AnalyticsError("by", "unknown period")
    if group is not None and group not in GROUPS:
        raise AnalyticsError("group", "unknown group")
    dim = GROUP_DIM[group] if group else None
    buckets: dict[tuple[date, Any], Sums] = defaultdict(Sums)
    if metric == "compensation_paid":
        for day, key, amount, count in _payout_rows(session, start, end, filters, dim):
            slot = buckets[(period_of(day, by), key)]
            slot.paid += amount
            slot.payouts += count
    else:
        for day, key, measures in fact_rows(session, start, end, filters, dim):
            buckets[(period_of(day, by), key)].add(measures)
    if metric == "complaint_rate":
        volume_dim = dim if dim in ("product", "region") else None
        for (day, key), orders in _volumes(session, start, end, filters, volume_dim, by).items():
            buckets[(day, key)].orders += orders
        if volume_dim is None and dim is not None:  # every group against all the orders
            totals: dict[date, float] = defaultdict(float)
            for (day, _k), orders in _volumes(session, start, end, filters, None, by).items():
                totals[day] += orders
            for (day, _key), slot in buckets.items():
                slot.orders = totals.get(day, 0.0)
    labels = group_labels(session, group, {key for _, key in buckets})
    points = []
    for (period, key), slot in sorted(
        buckets.items(), key=lambda item: (item[0][0], str(item[0][1]))
    ):
        if metric == "complaints":
            value: float | None = float(slot["complaints"])
        else:
            value = _kpi(metric, slot, None).value
        if value is None:
            continue
        text = "" if key is None else str(key)
        points.append(Point(period, text, labels.get(key, text), value))
    return points


def complaint_rate(
    session: Session, start: date, end: date, filters: Filters, by: str = "product"
) -> list[Rate]:
    """Complaints per 10,000 orders for each product (or region) that has complaints or
    orders in [start, end); the business volumes are the denominator."""
    check_range(start, end)
    if by not in ("product", "region"):
        raise AnalyticsError("by", "unknown group")
    counts: dict[Any, int] = defaultdict(int)
    for _day, key, measures in fact_rows(session, start, end, filters, by):
        counts[key] += int(measures[F.INDEX["complaints"]])
    orders = _volumes(session, start, end, filters, by)
    rates = []
    for key in sorted(set(counts) | set(orders), key=str):
        n, o = counts.get(key, 0), orders.get(key, 0.0)
        rates.append(Rate(key, key or "", n, o, round(n / o * 10000, 4) if o else None))
    return rates


def check_range(start: date, end: date) -> None:
    if end <= start:
        raise AnalyticsError("to", "the end must be after the start")
    if (end - start).days > MAX_DAYS:
        raise AnalyticsError("to", "the range is too long")


def period_of(day: date, by: str) -> date:
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


# -- KPIs from sums -----------------------------------------------------------------------


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return round(num / den * scale, 6) if den else None


def _p90(sums: Sums) -> tuple[float | None, float]:
    """The upper edge (hours) of the histogram bucket holding the 90th percentile, and how
    many handling times lie at or below it."""
    n = sums["resolved"]
    if not n:
        return None, 0.0
    rank = math.ceil(0.9 * n)
    seen = 0
    for i, name in enumerate(F.HIST):
        seen += sums[name]
        if seen >= rank:
            edges = F.EDGES_HOURS
            return float(edges[i] if i < len(edges) else edges[-1]), float(seen)
    return float(F.EDGES_HOURS[-1]), float(seen)


def _kpi(code: str, s: Sums, target: tuple[str, float] | None) -> Kpi:
    num: float
    den: float
    value: float | None
    if code == "response_rate":
        num, den = s["response_met"], s["response_due"]
        value = _ratio(num, den)
    elif code == "resolution_rate":
        num, den = s["resolved"], s["complaints"]
        value = _ratio(num, den)
    elif code == "csat":
        num, den = s["survey_score_sum"] * 2 / 3, s["survey_answers"]
        value = _ratio(num, den)
    elif code == "nps":
        num, den = s["nps_promoters"] - s["nps_detractors"], s["nps_answers"]
        value = _ratio(num, den, 100)
    elif code == "fcr":
        num, den = s["fcr"], s["resolved"]
        value = _ratio(num, den)
    elif code == "handling_time_avg":
        num, den = s["handling_minutes"] / 60, s["resolved"]
        value = _ratio(num, den)
    elif code == "handling_time_p90":
        value, num = _p90(s)
        den = s["resolved"]
    elif code == "repeat_rate":
        num, den = s["repeats"], s["complaints"]
        value = _ratio(num, den)
    elif code == "reopen_rate":
        num, den = s["reopened"], s["resolved_ever"]
        value = _ratio(num, den)
    elif code == "escalation_rate":
        num, den = s["escalated"], s["complaints"]
        value = _ratio(num, den)
    elif code == "sla_breach_rate":
        num, den = s["breached"], s["sla_tracked"]
        value = _ratio(num, den)
    elif code == "compensation_paid":
        num, den = float(s.paid), s.payouts
        value = float(s.paid)
    elif code == "complaint_rate":
        num, den = s["complaints"], s.orders
        value = _ratio(num, den, 10000)
    else:  # pragma: no cover - KPI_CODES and this table are kept together
        raise AnalyticsError("metric", "unknown metric")
    operator, goal = target if target else (None, None)
    below = value is not None and goal is not None and not _meets(value, operator, goal)
    return Kpi(code, value, float(num), float(den), goal, UNITS[code], below, operator)


def _meets(value: float, operator: str | None, goal: float) -> bool:
    if operator == ">":
        return value > goal
    if operator == "<":
        return value < goal
    if operator == "<=":
        return value <= goal
    return value >= goal


def targets(session: Session) -> dict[str, tuple[str, float]]:
    """The targets in force: the admins' (kesu.analytics.models.KpiTarget), else defaults."""
    from kesu.analytics.models import KpiTarget

    chosen = dict(DEFAULT_TARGETS)
    for row in session.scalars(select(KpiTarget)):
        if row.value is None:
            chosen.pop(row.code, None)
        else:
            chosen[row.code] = (row.operator, float(row.value))
    return chosen


# -- where the sums come from ---------------------------------------------------------------


def category_scope(session: Session, category_id: int) -> set[int]:
    """The category and its descendants."""
    from kesu.taxonomy.models import Category

    path = session.scalar(select(Category.path).where(Category.id == category_id))
    if path is None:
        return {category_id}
    rows = session.scalars(
        select(Category.id).where((Category.path == path) | Category.path.like(path + "/%"))
    )
    return set(rows) | {category_id}


def fact_rows(
    session: Session, start: date, end: date, filters: Filters, dim: str | None
) -> Iterable[tuple[date, Any, Sequence[int]]]:
    """(day, group key, measure sums) from the rollups. ``dim`` is a fact dimension or None;
    for ``category_id`` the key is mapped to the group's level afterwards."""
    from kesu.analytics import rollups

    group_dim = dim
    rows = rollups.read(session, start, end, filters, group_dim)
    if group_dim == "category_id":
        rows = _category_groups(session, rows, filters.category_id)
    return rows


def direct_rows(
    session: Session, start: date, end: date, filters: Filters, dim: str | None
) -> list[tuple[date, Any, Sequence[int]]]:
    """The same as ``fact_rows`` computed straight from the tables (tests, and checks of a
    rebuild): every complaint received in the range, its fact computed now."""
    from kesu.complaints.models import Complaint

    group_dim = dim
    ids = session.scalars(
        select(Complaint.id).where(
            Complaint.received_at >= F.local_start(start),
            Complaint.received_at < F.local_start(end),
        )
    ).all()
    scope = category_scope(session, filters.category_id) if filters.category_id else None
    out: dict[tuple[date, Any], list[int]] = {}
    for fact in F.compute(session, ids).values():
        if fact is None or not matches(fact, filters, scope):
            continue
        key = fact.dim(group_dim) if group_dim else None
        slot = out.setdefault((fact.day, key), [0] * len(F.MEASURES))
        for i, value in enumerate(fact.measures):
            slot[i] += value
    rows: list[tuple[date, Any, Sequence[int]]] = [(d, k, m) for (d, k), m in out.items()]
    if group_dim == "category_id":
        rows = _category_groups(session, rows, filters.category_id)
    return rows


def matches(fact: F.Fact, filters: Filters, scope: set[int] | None) -> bool:
    if filters.team_id is not None and fact.dim("team_id") != filters.team_id:
        return False
    if scope is not None and fact.dim("category_id") not in scope:
        return False
    if filters.channel is not None and fact.dim("channel") != filters.channel:
        return False
    if filters.region is not None and fact.dim("region") != filters.region:
        return False
    return not (filters.product is not None and fact.dim("product") != filters.product)


def category_target(session: Session, parent: int | None) -> Any:
    """A function mapping a category id to its group: its level-1 ancestor, or the child of
    ``parent`` it lies under (a complaint filed on ``parent`` itself keeps ``parent``)."""
    from kesu.taxonomy.models import Category

    parents: dict[int, int | None] = {
        int(r[0]): r[1] for r in session.execute(select(Category.id, Category.parent_id))
    }
    cache: dict[int, int] = {}

    def target(cid: int) -> int:
        if not cid:
            return 0
        if cid in cache:
            return cache[cid]
        chain = [cid]
        while parents.get(chain[-1]) is not None and len(chain) < 10:
            chain.append(parents[chain[-1]])  # type: ignore[arg-type]
        if parent is None:
            found = chain[-1]
        elif parent in chain:
            i = chain.index(parent)
            found = chain[i - 1] if i > 0 else parent
        else:
            found = cid
        cache[cid] = found
        return found

    return target


def _category_groups(
    session: Session, rows: Iterable[tuple[date, Any, Sequence[int]]], parent: int | None
) -> list[tuple[date, Any, Sequence[int]]]:
    target = category_target(session, parent)
    merged: dict[tuple[date, Any], list[int]] = {}
    for day, key, measures in rows:
        slot = merged.setdefault((day, target(key)), [0] * len(F.MEASURES))
        for i, value in enumerate(measures):
            slot[i] += int(value or 0)
    return [(d, k, m) for (d, k), m in merged.items()]


def group_labels(session: Session, group: str | None, keys: set[Any]) -> dict[Any, str]:
    """Each group key's label in the reader's language."""
    from kesu.accounts.models import Team, User
    from kesu.taxonomy.models import Category
    from kesu.web.i18n import current_locale
    from kesu.web.i18n import gettext as _

    english = current_locale().startswith("en")
    none = _("未指定")
    ids = [k for k in keys if isinstance(k, int) and k]
    labels: dict[Any, str] = {k: none for k in keys if not k}
    if group == "category" and ids:
        for cid, name, name_en in session.execute(
            select(Category.id, Category.name, Category.name_en).where(Category.id.in_(ids))
        ):
            labels[cid] = (name_en or name) if english else name
    elif group == "team" and ids:
        for tid, name, name_en in session.execute(
            select(Team.id, Team.name, Team.name_en).where(Team.id.in_(ids))
        ):
            labels[tid] = (name_en or name) if english else name
    elif group == "handler" and ids:
        for uid, username, display in session.execute(
            select(User.id, User.username, User.display_name).where(User.id.in_(ids))
        ):
            labels[uid] = display or username
    return labels


def _payout_query(start: date, end: date, filters: Filters, dim: str | None) -> Any:
    from kesu.compensation.models import CompensationPayout as P
    from kesu.complaints.models import Complaint, Customer

    columns: dict[str, Any] = {
        "category_id": Complaint.category_id,
        "channel": Complaint.channel,
        "region": Customer.region,
        "team_id": P.team_id,
        "handler_id": Complaint.assignee_id,
        "product": Complaint.product,
    }
    joined = bool(filters.dims() - {"team_id"}) or dim not in (None, "team_id")
    return columns, joined, P, Complaint, Customer


def _payout_filtered(session: Session, query: Any, filters: Filters, joined: bool) -> Any:
    from kesu.compensation.models import CompensationPayout as P
    from kesu.complaints.models import Complaint, Customer

    if joined:
        query = query.join(Complaint, Complaint.id == P.complaint_id).join(
            Customer, Customer.id == Complaint.customer_id
        )
    if filters.team_id is not None:
        query = query.where(P.team_id == filters.team_id)
    if filters.category_id is not None:
        query = query.where(Complaint.category_id.in_(category_scope(session, filters.category_id)))
    if filters.channel is not None:
        query = query.where(Complaint.channel == filters.channel)
    if filters.region is not None:
        query = query.where(Customer.region == filters.region)
    if filters.product is not None:
        query = query.where(Complaint.product == filters.product)
    return query


def _payouts_total(
    session: Session, start: date, end: date, filters: Filters
) -> tuple[Decimal, int]:
    _columns, joined, P, _c, _u = _payout_query(start, end, filters, None)
    query = select(func.coalesce(func.sum(P.amount), 0), func.count(P.id)).where(
        P.approved_at >= F.local_start(start), P.approved_at < F.local_start(end)
    )
    total, count = session.execute(_payout_filtered(session, query, filters, joined)).one()
    return Decimal(str(total)).quantize(Decimal("0.01")), int(count)


def _payout_rows(
    session: Session, start: date, end: date, filters: Filters, dim: str | None
) -> list[tuple[date, Any, Decimal, int]]:
    """(day, key, amount, count) of the payouts approved in the range (few rows: read as is,
    each payout joined to its complaint by primary key)."""
    columns, joined, P, _c, _u = _payout_query(start, end, filters, dim)
    key = columns[dim] if dim else None
    query = select(P.approved_at, P.amount, *([key] if key is not None else [])).where(
        P.approved_at >= F.local_start(start), P.approved_at < F.local_start(end)
    )
    out: dict[tuple[date, Any], list[Any]] = {}
    for row in session.execute(_payout_filtered(session, query, filters, joined)):
        k = row[2] if key is not None else None
        if dim in F.INT_DIMS:
            k = k or 0
        elif dim:
            k = k or ""
        slot = out.setdefault((F.local_day(row[0]), k), [Decimal("0"), 0])
        slot[0] += Decimal(row[1])
        slot[1] += 1
    if dim == "category_id":
        target = category_target(session, filters.category_id)
        grouped: dict[tuple[date, Any], list[Any]] = {}
        for (d, k), v in out.items():
            slot = grouped.setdefault((d, target(k)), [Decimal("0"), 0])
            slot[0] += v[0]
            slot[1] += v[1]
        out = grouped
    return [(d, k, v[0], v[1]) for (d, k), v in out.items()]


def _volumes(
    session: Session,
    start: date,
    end: date,
    filters: Filters,
    dim: str | None,
    by: str | None = None,
) -> dict[Any, float]:
    from kesu.analytics import volumes

    return volumes.orders(session, start, end, filters, dim, by)
