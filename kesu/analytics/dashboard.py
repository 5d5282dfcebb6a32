"""The dashboard's content: KPI tiles, trends, breakdowns with drill-down, top issues of this
week against last, spikes and the complaint rate by product line.

Every number comes from ``kesu.analytics.service`` (the rollups: no dashboard reads the
complaints table). A chart is a ``Chart``: the same numbers go to the browser as JSON (drawn
by ECharts, kesu/web/static/kesu-dashboard.js) and into a server-rendered table under it, so
the page is complete without JavaScript and every chart can be read aloud or copied.

A team lead's dashboard is scoped to their team (``Filters.team_id``, whatever the URL says)
and smaller: no comparison of teams, regions or product lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.roles import Role
from kesu.analytics import service, spikes
from kesu.complaints.enums import Channel
from kesu.errors import InvalidInput
from kesu.taxonomy.models import Category
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

PERIODS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
PERIOD_LABELS = {
    "7d": N_("最近 7 天"),
    "30d": N_("最近 30 天"),
    "90d": N_("最近 90 天"),
    "365d": N_("最近一年"),
}
BY = {"day": N_("按日"), "week": N_("按周"), "month": N_("按月")}
MAX_DAYS = 731
TOP_N = 10
BAR_LIMIT = 20  # bars per breakdown; the table lists the same rows
GROUP_TITLES = {
    "category": N_("按分类"),
    "product": N_("按产品线"),
    "region": N_("按地区"),
    "channel": N_("按渠道"),
    "team": N_("按团队"),
    "handler": N_("按处理人"),
}
UNIT_WORDS = {
    "hours": N_("小时"),
    "CNY": N_("元"),
    "per_10k_orders": N_("件/万单"),
    "count": N_("件"),
}


@dataclass(frozen=True)
class DashQuery:
    """The dashboard's URL, checked: everything a link or the filter form may carry."""

    period: str
    start: date  # local dates [start, end)
    end: date
    by: str
    metric: str
    filters: service.Filters
    team: str = ""  # as in the URL (a code), for the links
    custom: bool = False

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "period": self.period if not self.custom else "",
            "from": self.start.isoformat() if self.custom else "",
            "to": (self.end - timedelta(days=1)).isoformat() if self.custom else "",
            "by": self.by,
            "metric": self.metric if self.metric != "complaints" else "",
            "team": self.team,
            "channel": self.filters.channel or "",
            "region": self.filters.region or "",
            "product": self.filters.product or "",
            "category": self.filters.category_id or "",
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def url(self, **changes: Any) -> str:
        return "/dashboard?" + urlencode(self.params(**changes))


def parse(
    session: Session,
    user: User,
    today: date,
    *,
    period: str = "",
    start: str = "",
    end: str = "",
    by: str = "",
    metric: str = "",
    team: str = "",
    channel: str = "",
    region: str = "",
    product: str = "",
    category: int | None = None,
) -> DashQuery:
    """The query string as a ``DashQuery``; a value that makes no sense is InvalidInput
    naming it. A team lead's team replaces whatever team the URL names."""
    custom = bool(start or end)
    if custom:
        first, last = _day(start, "from"), _day(end, "to")
        if last < first:
            raise InvalidInput(_("结束日期早于开始日期"), field="to")
        if (last - first).days >= MAX_DAYS:
            raise InvalidInput(_("时间范围最长两年"), field="from")
        period, lo, hi = "", first, last + timedelta(days=1)
    else:
        period = period or "30d"
        if period not in PERIODS:
            raise InvalidInput(_("没有这个时间段：%(p)s") % {"p": period}, field="period")
        hi = today + timedelta(days=1)
        lo = hi - timedelta(days=PERIODS[period])
    days = (hi - lo).days
    by = by or ("day" if days <= 31 else "week" if days <= 190 else "month")
    if by not in BY:
        raise InvalidInput(_("时间粒度应为 day、week 或 month"), field="by")
    metric = metric or "complaints"
    if metric != "complaints" and metric not in service.KPI_CODES:
        raise InvalidInput(_("没有这个指标：%(m)s") % {"m": metric}, field="metric")
    if channel and channel not in Channel.__members__:
        raise InvalidInput(_("没有这个渠道：%(c)s") % {"c": channel}, field="channel")
    team_id: int | None = None
    if is_lead(user):
        team_id = user.team_id if user.team_id is not None else -1  # no team: nothing
        team = ""
    elif team:
        team_id = session.scalar(select(Team.id).where(Team.code == team))
        if team_id is None:
            raise InvalidInput(_("没有这个团队：%(team)s") % {"team": team}, field="team")
    if category is not None and session.get(Category, category) is None:
        raise InvalidInput(_("没有这个分类"), field="category")
    filters = service.Filters(
        team_id=team_id,
        category_id=category,
        channel=channel or None,
        region=region or None,
        product=product or None,
    )
    return DashQuery(period, lo, hi, by, metric, filters, team, custom)


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("日期格式应为 YYYY-MM-DD"), field=name) from None


def is_lead(user: User) -> bool:
    return user.role == Role.team_lead.value


# ---- charts --------------------------------------------------------------------------------


@dataclass
class Chart:
    """One chart and its table: x labels, one or more series, a link per bar (drill-down)."""

    id: str
    title: str
    kind: str  # "line" | "bar"
    x: list[str]
    series: list[tuple[str, list[float | None]]]
    links: list[str | None] = field(default_factory=list)
    unit: str = ""
    horizontal: bool = False
    note: str = ""

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "x": self.x,
            "series": [{"name": name, "data": values} for name, values in self.series],
            "links": self.links,
            "unit": self.unit,
            "horizontal": self.horizontal,
        }

    @property
    def rows(self) -> list[tuple[str, str | None, list[float | None]]]:
        """The table: (label, link, a value per series)."""
        links = self.links or [None] * len(self.x)
        return [
            (label, links[i], [values[i] for _name, values in self.series])
            for i, label in enumerate(self.x)
        ]


def number(value: float | None, unit: str = "") -> str:
    """A value as the tiles and tables show it (units of kesu.analytics.service.UNITS)."""
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "nps":
        return f"{value:+.0f}"
    if unit in ("CNY", "per_10k_orders"):
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def metric_name(code: str) -> str:
    return _(service.NAMES.get(code, code))


def _sum_by_key(points: Sequence[service.Point]) -> list[tuple[str, str, float]]:
    totals: dict[str, float] = {}
    labels: dict[str, str] = {}
    for point in points:
        totals[point.key] = totals.get(point.key, 0.0) + point.value
        labels.setdefault(point.key, point.label)
    rows = [(key, labels[key], value) for key, value in totals.items()]
    rows.sort(key=lambda row: (-row[2], row[1]))
    return rows


class Memo:
    """``service.series`` remembered for one page: the top issues and the spikes ask for the
    same recent daily series."""

    def __init__(self) -> None:
        self.found: dict[tuple[Any, ...], list[service.Point]] = {}

    def __call__(self, session: Session, **kw: Any) -> list[service.Point]:
        key = (kw["metric"], kw["by"], kw["group"], kw["start"], kw["end"], kw["filters"])
        if key not in self.found:
            self.found[key] = service.series(session, **kw)
        return self.found[key]


def workbench_url(user: User, q: DashQuery, **extra: Any) -> str:
    """The workbench filtered like the dashboard (and by ``extra``): every status, the
    dashboard's period as received dates. A team lead lands on their team queue."""
    params: dict[str, Any] = {"tab": "team"} if is_lead(user) else {"tab": "all", "status": "any"}
    params.update(
        received_from=q.start.isoformat(),
        received_to=(q.end - timedelta(days=1)).isoformat(),
        channel=q.filters.channel or "",
        region=q.filters.region or "",
        product=q.filters.product or "",
        team=q.team,
        category=q.filters.category_id or "",
    )
    params.update(extra)
    return "/?" + urlencode({k: str(v) for k, v in params.items() if v not in ("", None)})


def _series_total(session: Session, q: DashQuery, group: str) -> list[tuple[str, str, float]]:
    by = (
        "month" if (q.end - q.start).days > 62 else "week" if (q.end - q.start).days > 14 else "day"
    )
    points = service.series(
        session,
        metric="complaints",
        by=by,
        group=group,
        start=q.start,
        end=q.end,
        filters=q.filters,
    )
    return _sum_by_key(points)


def trend_chart(session: Session, q: DashQuery) -> Chart:
    points = service.series(
        session, metric=q.metric, by=q.by, group=None, start=q.start, end=q.end, filters=q.filters
    )
    by_period: dict[date, float] = {}
    for point in points:
        by_period[point.period] = by_period.get(point.period, 0.0) + point.value
    periods = sorted(by_period)
    title = metric_name(q.metric)
    unit = service.UNITS.get(q.metric, "count")
    scale = 100.0 if unit == "ratio" else 1.0  # a ratio is drawn and listed in per cent
    return Chart(
        "trend",
        _("趋势：%(metric)s（%(by)s）") % {"metric": title, "by": _(BY[q.by])},
        "line",
        [p.isoformat() for p in periods],
        [(title, [round(by_period[p] * scale, 2) for p in periods])],
        unit="%" if unit == "ratio" else (_(UNIT_WORDS[unit]) if unit in UNIT_WORDS else ""),
    )


def category_chart(
    session: Session, user: User, q: DashQuery, categories: dict[int, Category]
) -> Chart:
    """The categories at the current level; a bar opens its children, a leaf the workbench."""
    rows = _series_total(session, q, "category")[:BAR_LIMIT]
    has_children = {c.parent_id for c in categories.values() if c.parent_id is not None}
    links: list[str | None] = []
    for key, _label, _value in rows:
        cid = category_key(key)
        if cid is not None and cid in has_children:
            links.append(q.url(category=cid))
        elif cid is not None:
            links.append(workbench_url(user, q, category=cid))
        else:
            links.append(None)
    return Chart(
        "category",
        _(GROUP_TITLES["category"]),
        "bar",
        [_category_label(categories, key, label) for key, label, _v in rows],
        [(_("投诉量"), [v for _k, _l, v in rows])],
        links,
        horizontal=True,
        note=_("点击分类查看下一级；最末一级打开工作台中的投诉。"),
    )


def category_key(key: str) -> int | None:
    """A category group key as an id; None for "no category" (the rollups store 0)."""
    return int(key) if key.isascii() and key.isdigit() and 0 < len(key) <= 9 and int(key) else None


def _category_label(categories: dict[int, Category], key: str, label: str) -> str:
    from kesu.web.templating import loc

    cid = category_key(key)
    found = categories.get(cid) if cid else None
    return loc(found) if found is not None else label


def group_chart(session: Session, user: User, q: DashQuery, group: str) -> Chart:
    rows = _series_total(session, q, group)[:BAR_LIMIT]
    param = {"channel": "channel", "region": "region", "product": "product", "team": "team"}
    links: list[str | None] = []
    teams = {}
    if group == "team":
        teams = {str(t.id): t.code for t in session.scalars(select(Team))}
    for key, _label, _value in rows:
        if group in param and key and key not in ("none", "-"):
            value = teams.get(key, "") if group == "team" else key
            links.append(workbench_url(user, q, **{param[group]: value}) if value else None)
        else:
            links.append(None)
    labels = [_channel_label(label) if group == "channel" else label for _k, label, _v in rows]
    return Chart(
        group,
        _(GROUP_TITLES[group]),
        "bar",
        labels,
        [(_("投诉量"), [v for _k, _l, v in rows])],
        links,
        horizontal=group in ("product", "handler", "region", "team"),
    )


def _channel_label(value: str) -> str:
    from kesu.complaints.enums import CHANNEL_LABELS

    try:
        return _(CHANNEL_LABELS[Channel(value)])
    except (KeyError, ValueError):
        return value


@dataclass(frozen=True)
class TopIssue:
    key: str
    label: str
    this_week: float
    last_week: float
    link: str | None

    @property
    def change(self) -> float:
        return self.this_week - self.last_week

    @property
    def change_pct(self) -> float | None:
        return self.change / self.last_week if self.last_week else None


def top_issues(
    session: Session,
    user: User,
    q: DashQuery,
    today: date,
    categories: dict[int, Category],
    n: int = TOP_N,
    fetch: Any = service.series,
) -> list[TopIssue]:
    """The categories (at the level shown) with the most complaints in the last 7 days,
    against the 7 days before."""
    end = today + timedelta(days=1)
    mid = end - timedelta(days=7)
    points = fetch(
        session,
        metric="complaints",
        by="day",
        group="category",
        start=end - timedelta(days=14),
        end=end,
        filters=q.filters,
    )
    now: dict[str, float] = {}
    before: dict[str, float] = {}
    labels: dict[str, str] = {}
    for point in points:
        bucket = now if point.period >= mid else before
        bucket[point.key] = bucket.get(point.key, 0.0) + point.value
        labels.setdefault(point.key, point.label)
    week = replace(q, start=mid, end=end, custom=True)
    issues = [
        TopIssue(
            key,
            _category_label(categories, key, labels[key]),
            now.get(key, 0.0),
            before.get(key, 0.0),
            workbench_url(user, week, category=key) if category_key(key) else None,
        )
        for key in labels
    ]
    issues.sort(key=lambda i: (-i.this_week, -i.change, i.label))
    return [i for i in issues if i.this_week or i.last_week][:n]


def category_path(categories: dict[int, Category], key: str, label: str) -> str:
    """``产品质量 › 功能故障 › 无法开机`` (in the UI language)."""
    from kesu.web.templating import loc

    cid = category_key(key)
    node = categories.get(cid) if cid else None
    if node is None:
        return label
    names = []
    while node is not None:
        names.append(loc(node))
        node = categories.get(node.parent_id) if node.parent_id else None
    return " › ".join(reversed(names))


def spike_rows(
    session: Session,
    user: User,
    q: DashQuery,
    today: date,
    categories: dict[int, Category],
    fetch: Any = service.series,
) -> list[dict[str, Any]]:
    recent = today - timedelta(days=13)  # the top issues' series: one query for both
    found = spikes.find(session, today, q.filters, window="day", fetch=fetch, start=recent)
    rows = []
    for spike in found:
        window = replace(q, start=spike.start, end=spike.end, custom=True)
        if spike.group == "category":
            label = category_path(categories, spike.key, spike.label)
            link = (
                workbench_url(user, window, category=spike.key) if category_key(spike.key) else None
            )
        else:
            label = spike.label
            link = workbench_url(user, window, product=spike.key)
        rows.append(
            {
                "group": _(GROUP_TITLES[spike.group]),
                "label": label,
                "current": spike.current,
                "mean": spike.mean,
                "sd": spike.sd,
                "score": spike.score,
                "link": link,
            }
        )
    return rows


def rate_chart(session: Session, q: DashQuery) -> tuple[Chart, list[dict[str, Any]]]:
    """Complaints per 10,000 orders by product line (the imported business volumes)."""
    result = service.complaint_rate(session, q.start, q.end, q.filters, by="product")
    rows = _rate_rows(result)
    drawn = [r for r in rows if r["rate"] is not None][:BAR_LIMIT]
    chart = Chart(
        "rate",
        _("万单投诉率（按产品线）"),
        "bar",
        [r["label"] for r in drawn],
        [(_("每万单投诉"), [round(r["rate"], 2) for r in drawn])],
        horizontal=True,
        unit=_("件/万单"),
    )
    return chart, rows


def _rate_rows(rates: Sequence[service.Rate]) -> list[dict[str, Any]]:
    """The rates as table rows, highest first; a product line without imported volumes has
    no rate (None) and comes last."""
    rows: list[dict[str, Any]] = [
        {
            "key": r.key,
            "label": r.label or _("未指定"),
            "complaints": r.complaints,
            "orders": r.orders,
            "rate": r.value,
        }
        for r in rates
    ]
    rows.sort(key=lambda r: (r["rate"] is None, -(r["rate"] or 0.0), r["label"]))
    return rows


# ---- the page ------------------------------------------------------------------------------


def kpi_tiles(session: Session, q: DashQuery) -> list[dict[str, Any]]:
    found = service.kpis(session, start=q.start, end=q.end, filters=q.filters)
    tiles = []
    for code in service.KPI_CODES:
        kpi = found.get(code)
        if kpi is None:
            continue
        tiles.append(
            {
                "code": code,
                "label": metric_name(code),
                "value": number(kpi.value, kpi.unit),
                "unit": _(UNIT_WORDS[kpi.unit])
                if kpi.unit in UNIT_WORDS and kpi.value is not None
                else "",
                "target": number(kpi.target, kpi.unit) if kpi.target is not None else "",
                "below": bool(kpi.below_target),
                "numerator": number(kpi.numerator),
                "denominator": number(kpi.denominator),
                "trend": q.url(metric=code),
            }
        )
    return tiles


def breadcrumbs(q: DashQuery, categories: dict[int, Category]) -> list[tuple[str, str]]:
    from kesu.web.templating import loc

    trail: list[tuple[str, str]] = []
    node = categories.get(q.filters.category_id) if q.filters.category_id else None
    while node is not None:
        trail.append((loc(node), q.url(category=node.id)))
        node = categories.get(node.parent_id) if node.parent_id else None
    return [(_("全部分类"), q.url(category="")), *reversed(trail)]


def build(session: Session, user: User, q: DashQuery, today: date) -> dict[str, Any]:
    """Everything the template shows (and the JSON the charts draw)."""
    categories = {c.id: c for c in session.scalars(select(Category))}
    lead = is_lead(user)
    memo = Memo()
    charts = [trend_chart(session, q), category_chart(session, user, q, categories)]
    groups = ("handler", "channel") if lead else ("product", "region", "channel", "team", "handler")
    charts += [group_chart(session, user, q, g) for g in groups]
    rate: Chart | None = None
    rate_rows: list[dict[str, Any]] = []
    if not lead:
        rate, rate_rows = rate_chart(session, q)
        charts.append(rate)
    return {
        "q": q,
        "q_end_label": (q.end - timedelta(days=1)).isoformat(),
        "lead": lead,
        "team": session.get(Team, user.team_id) if lead and user.team_id else None,
        "tiles": kpi_tiles(session, q),
        "charts": charts,
        "chart_data": {c.id: c.data() for c in charts},
        "top": top_issues(session, user, q, today, categories, fetch=memo),
        "spikes": spike_rows(session, user, q, today, categories, fetch=memo),
        "rate_rows": rate_rows,
        "crumbs": breadcrumbs(q, categories),
        "workbench": workbench_url(user, q),
        "number": number,
    }
