"""JSON routes: KPIs, series, the complaint rate, business volumes and KPI targets.

Dates are local (Asia/Shanghai) days, ``from`` included and ``to`` excluded
(``from=2026-11-01&to=2026-12-01`` is November); the KPIs are those of the complaints
*received* in the range (docs/analytics.md). A team lead is kept to their own team: no
``team`` means theirs, another team is a 403.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.analytics import service, volumes
from kesu.analytics.facts import local_day
from kesu.analytics.service import Filters
from kesu.errors import InvalidInput
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserW
from kesu.web.i18n import gettext as _
from kesu.web.params import Code, QueryId

router = APIRouter(tags=["analytics"])

DateText = Annotated[str | None, Query(max_length=10)]
FromText = Annotated[str | None, Query(alias="from", max_length=10)]
Dim = Annotated[str | None, Query(max_length=128)]
MAX_SERIES_DAYS = 400  # by=day: at most this many days (use week or month beyond)
MAX_VOLUME_ROWS = 5000


def parse_day(text: str | None, field: str) -> date | None:
    if text is None or text == "":
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("日期应为 YYYY-MM-DD"), field=field) from None
    if not 2000 <= day.year <= 2100 or len(text) != 10:
        raise InvalidInput(_("日期应为 YYYY-MM-DD"), field=field)
    return day


def period(start_text: str | None, end_text: str | None, clock: Any) -> tuple[date, date]:
    """``from``/``to`` (``to`` excluded); defaults: the 30 days up to today."""
    end = parse_day(end_text, "to") or local_day(clock.now()) + timedelta(days=1)
    start = parse_day(start_text, "from") or end - timedelta(days=30)
    service.check_range(start, end)
    return start, end


def filters_of(
    user: Any,
    team: int | None,
    category: int | None,
    channel: str | None,
    region: str | None,
    product: str | None,
) -> Filters:
    given = Filters(
        team_id=team,
        category_id=category,
        channel=channel or None,
        region=region or None,
        product=product or None,
    )
    return service.scope_for(user, given)


class KpiOut(BaseModel):
    value: float | None
    numerator: float
    denominator: float
    target: float | None
    operator: str | None
    unit: str
    below_target: bool
    name: str
    amount: str | None = None  # compensation_paid: the exact sum as a decimal string


class PeriodOut(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    timezone: str = "Asia/Shanghai"
    end: str = "exclusive"
    basis: str = "received_at"


class KpisOut(BaseModel):
    period: PeriodOut
    filters: dict[str, Any]
    kpis: dict[str, KpiOut]


class PointOut(BaseModel):
    period: date
    key: str
    label: str
    value: float


class SeriesOut(BaseModel):
    metric: str
    by: str
    group: str | None
    period: PeriodOut
    filters: dict[str, Any]
    points: list[PointOut]


class RateOut(BaseModel):
    key: str
    label: str
    complaints: int
    orders: float
    value: float | None


class RatesOut(BaseModel):
    by: str
    period: PeriodOut
    rates: list[RateOut]


def _period_out(start: date, end: date) -> PeriodOut:
    return PeriodOut(from_=start, to=end)


def _filters_out(f: Filters) -> dict[str, Any]:
    return {
        "team": f.team_id,
        "category": f.category_id,
        "channel": f.channel,
        "region": f.region,
        "product": f.product,
    }


def kpi_out(kpi: service.Kpi, paid: Decimal | None = None) -> KpiOut:
    return KpiOut(
        value=kpi.value,
        numerator=kpi.numerator,
        denominator=kpi.denominator,
        target=kpi.target,
        operator=kpi.operator,
        unit=kpi.unit,
        below_target=kpi.below_target,
        name=_(service.NAMES[kpi.code]),
        amount=f"{paid:.2f}" if paid is not None else None,
    )


@router.get(
    "/api/v1/analytics/kpis",
    response_model=KpisOut,
    response_model_by_alias=True,
)
def get_kpis(
    session: ReadSession,
    clock: ClockDep,
    user: Annotated[Any, Needs(Permission.analytics_view)],
    start: FromText = None,
    to: DateText = None,
    team: QueryId = None,
    category: QueryId = None,
    channel: Dim = None,
    region: Dim = None,
    product: Dim = None,
) -> Any:
    """Every KPI of the complaints received in [from, to) matching the filters, with its
    numerator, denominator, target and whether it is below target."""
    begin, end = period(start, to, clock)
    f = filters_of(user, team, category, channel, region, product)
    values = service.kpis(session, start=begin, end=end, filters=f)
    paid = Decimal(str(values["compensation_paid"].numerator)).quantize(Decimal("0.01"))
    return KpisOut(
        period=_period_out(begin, end),
        filters=_filters_out(f),
        kpis={
            code: kpi_out(k, paid if code == "compensation_paid" else None)
            for code, k in values.items()
        },
    )


@router.get("/api/v1/analytics/series", response_model=SeriesOut, response_model_by_alias=True)
def get_series(
    session: ReadSession,
    clock: ClockDep,
    user: Annotated[Any, Needs(Permission.analytics_view)],
    metric: Annotated[str, Query(max_length=32)] = "complaints",
    by: Annotated[str, Query(max_length=8)] = "day",
    group: Annotated[str | None, Query(max_length=16)] = None,
    start: FromText = None,
    to: DateText = None,
    team: QueryId = None,
    category: QueryId = None,
    channel: Dim = None,
    region: Dim = None,
    product: Dim = None,
) -> Any:
    """``metric`` (complaints or a KPI code) per day, week (from Monday) or month, optionally
    per group (category: level 1, or the children of ``category``; channel, region, team,
    handler, product). Periods without a value are left out."""
    begin, end = period(start, to, clock)
    if by == "day" and (end - begin).days > MAX_SERIES_DAYS:
        raise InvalidInput(_("按天最多 400 天，请按周或按月"), field="by")
    f = filters_of(user, team, category, channel, region, product)
    points = service.series(
        session, metric=metric, by=by, group=group or None, start=begin, end=end, filters=f
    )
    return SeriesOut(
        metric=metric,
        by=by,
        group=group or None,
        period=_period_out(begin, end),
        filters=_filters_out(f),
        points=[PointOut(period=p.period, key=p.key, label=p.label, value=p.value) for p in points],
    )


@router.get(
    "/api/v1/analytics/complaint-rate", response_model=RatesOut, response_model_by_alias=True
)
def get_complaint_rate(
    session: ReadSession,
    clock: ClockDep,
    user: Annotated[Any, Needs(Permission.analytics_view)],
    by: Annotated[str, Query(max_length=8)] = "product",
    start: FromText = None,
    to: DateText = None,
    team: QueryId = None,
    category: QueryId = None,
    channel: Dim = None,
    region: Dim = None,
    product: Dim = None,
) -> Any:
    """Complaints per 10,000 orders by product (line) or region; the orders are the
    business volumes (a month's orders count pro rata for the days inside the range)."""
    begin, end = period(start, to, clock)
    f = filters_of(user, team, category, channel, region, product)
    rates = service.complaint_rate(session, begin, end, f, by=by)
    return RatesOut(
        by=by,
        period=_period_out(begin, end),
        rates=[RateOut(**r.__dict__) for r in rates],
    )


# -- business volumes -----------------------------------------------------------------------


class VolumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    period: str = Field(min_length=7, max_length=10, description="2026-11 or 2026-11-05")
    product: str = Field(min_length=1, max_length=128)
    region: str = Field(default="", max_length=64)
    orders: int = Field(ge=0, le=volumes.MAX_ORDERS, strict=True)


class VolumeOut(BaseModel):
    period: str
    kind: str
    product: str
    region: str
    orders: int


class VolumesStored(BaseModel):
    stored: int


@router.post(
    "/api/v1/analytics/volumes",
    response_model=VolumesStored,
    dependencies=[NeedsW(Permission.analytics_volumes)],
)
def post_volumes(
    body: Annotated[list[VolumeIn], Body(min_length=1, max_length=MAX_VOLUME_ROWS)],
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
) -> Any:
    """Upserts business volumes (a list of rows: period, product, region, orders). A row
    with the same period, product and region replaces the stored one. Any bad row is a 422
    naming it (``field`` = ``<index>.<field>``, from 0) and nothing is stored."""
    rows = []
    for index, item in enumerate(body):
        row, errors = volumes.check_row(index, item.model_dump())
        if errors:
            raise InvalidInput(f"{index}: {errors[0].message}", field=f"{index}.{errors[0].field}")
        assert row is not None
        rows.append(row)
    seen: dict[tuple[Any, ...], int] = {}
    for index, row in enumerate(rows):
        key = (row.kind, row.period_start, row.product, row.region)
        if key in seen:
            raise InvalidInput(_("与第 %(n)s 行重复") % {"n": seen[key]}, field=f"{index}.period")
        seen[key] = index
    with db.session() as session:
        stored = volumes.store(session, clock, rows, user.username, "api")
    return VolumesStored(stored=stored)


@router.get(
    "/api/v1/analytics/volumes",
    response_model=list[VolumeOut],
    dependencies=[Needs(Permission.analytics_view)],
)
def list_volumes(
    session: ReadSession,
    clock: ClockDep,
    start: FromText = None,
    to: DateText = None,
    product: Dim = None,
) -> Any:
    """The stored volumes whose period begins in [from, to) (at most 5,000 rows)."""
    from kesu.analytics.models import BusinessVolume as V

    begin, end = period(start, to, clock)
    query = select(V).where(V.period_start >= begin, V.period_start < end)
    if product:
        query = query.where(V.product == product)
    rows = session.scalars(query.order_by(V.period_start, V.product, V.region).limit(5000))
    return [
        VolumeOut(
            period=volumes.VolumeRow(r.kind, r.period_start, r.product, r.region, r.orders).period,
            kind=r.kind,
            product=r.product,
            region=r.region,
            orders=r.orders,
        )
        for r in rows
    ]


# -- targets ---------------------------------------------------------------------------------


class TargetOut(BaseModel):
    code: str
    name: str
    operator: str | None
    value: float | None
    unit: str


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: str = Field(default=">=", pattern=r"^(>|>=|<|<=)$")
    value: float | None = Field(default=None, ge=-1e9, le=1e9, allow_inf_nan=False)


def targets_out(session: Any) -> list[TargetOut]:
    chosen = service.targets(session)
    return [
        TargetOut(
            code=code,
            name=_(service.NAMES[code]),
            operator=chosen[code][0] if code in chosen else None,
            value=chosen[code][1] if code in chosen else None,
            unit=service.UNITS[code],
        )
        for code in service.KPI_CODES
    ]


@router.get(
    "/api/v1/analytics/targets",
    response_model=list[TargetOut],
    dependencies=[Needs(Permission.analytics_view)],
)
def get_targets(session: ReadSession) -> Any:
    """Each KPI's target: the condition a good value meets (``operator`` ``value``)."""
    return targets_out(session)


@router.put(
    "/api/v1/analytics/targets/{code}",
    response_model=list[TargetOut],
    dependencies=[NeedsW(Permission.admin)],
)
def put_target(
    code: Code,
    body: TargetIn,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
) -> Any:
    """Sets a KPI's target (``value`` null: no target). Audited."""
    with db.session() as session:
        service.set_target(session, clock, user, code, body.operator, body.value)
        return targets_out(session)
