"""Pages: the dashboard (/dashboard) for managers, executives, auditors and admins, and the
smaller one of a team lead, scoped to their team (kesu.analytics.dashboard)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import PageNeeds
from kesu.accounts.roles import Permission
from kesu.analytics import dashboard, service
from kesu.complaints.enums import Channel
from kesu.complaints.numbering import LOCAL_TZ
from kesu.web.deps import ClockDep, ReadSession
from kesu.web.i18n import locale_dependency
from kesu.web.params import QueryId
from kesu.web.templating import render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)

Viewer = Annotated[User, PageNeeds(Permission.analytics_view)]
Word = Annotated[str, Query(max_length=16)]
Day = Annotated[str, Query(max_length=10)]
Name = Annotated[str, Query(max_length=128)]


@router.get("/dashboard")
def dashboard_page(
    request: Request,
    session: ReadSession,
    user: Viewer,
    clock: ClockDep,
    period: Word = "",
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
    by: Word = "",
    metric: Annotated[str, Query(max_length=64)] = "",
    team: Annotated[str, Query(max_length=64)] = "",
    channel: Word = "",
    region: Annotated[str, Query(max_length=64)] = "",
    product: Name = "",
    category: QueryId = None,
) -> Response:
    """The dashboard; filters in the URL (period or from/to, by, metric, team, channel,
    region, product, category). A bad value is a 422 page naming it."""
    today = clock.now().astimezone(LOCAL_TZ).date()
    q = dashboard.parse(
        session,
        user,
        today,
        period=period.strip(),
        start=start.strip(),
        end=end.strip(),
        by=by.strip(),
        metric=metric.strip(),
        team=team.strip(),
        channel=channel.strip(),
        region=region.strip(),
        product=product.strip(),
        category=category,
    )
    context = dashboard.build(session, user, q, today)
    context.update(
        {
            "periods": dashboard.PERIOD_LABELS,
            "bys": dashboard.BY,
            "metrics": ("complaints", *service.KPI_CODES),
            "metric_name": dashboard.metric_name,
            "teams": []
            if context["lead"]
            else list(session.scalars(select(Team).order_by(Team.id))),
            "channels": list(Channel),
            "today": today,
        }
    )
    return render(request, "analytics/dashboard.html", context)
