"""JSON routes: the monthly and quarterly reports (PDF or Excel) and the report schedules.

``GET /api/v1/reports/monthly?period=2026-11&format=pdf|xlsx`` and ``…/quarterly?period=
2026-Q4``: ``analytics.view``; a team lead gets their own team's report whatever ``team``
says; others may pick a team. The language is the caller's. A malformed or future period is a
422 on ``period``. Schedules (list, create, delete) are for admins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission, Role
from kesu.accounts.service import Actor
from kesu.attachments.web import content_disposition
from kesu.complaints.numbering import LOCAL_TZ
from kesu.db import Database
from kesu.errors import Forbidden
from kesu.reports import schedules
from kesu.reports.models import ReportSchedule
from kesu.reports.periods import parse
from kesu.reports.schedules import CONTENT_TYPES, ScheduleIn
from kesu.reports.service import gather
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession
from kesu.web.i18n import current_locale
from kesu.web.i18n import gettext as _
from kesu.web.params import Id, QueryId

API = "/api/v1/reports"
router = APIRouter(tags=["reports"])
Period = Annotated[str, Query(min_length=1, max_length=16, description="2026-11 | 2026-Q4")]
Format = Annotated[Literal["pdf", "xlsx"], Query()]
FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {t: {} for t in CONTENT_TYPES.values()},
        "description": "The report file (PDF or Excel).",
    }
}


def scope_team(user: User, team: int | None) -> int | None:
    """A team lead's report is their team's; others choose (None: every team)."""
    if user.role == Role.team_lead:
        if user.team_id is None:
            raise Forbidden(_("组长未分配团队，无法查看团队报告"))
        return user.team_id
    return team


def report_file(
    db: Database, clock: ClockDep, user: User, kind: str, period: str, fmt: str, team: int | None
) -> Response:
    now = clock.now()
    chosen = parse(kind, period, now.astimezone(LOCAL_TZ).date())
    with db.session(write=False) as session:
        report = gather(
            session, chosen, locale=current_locale(), now=now, team_id=scope_team(user, team)
        )
    data = schedules.render(report, fmt)
    return Response(
        data,
        media_type=CONTENT_TYPES[fmt],
        headers={
            "Content-Disposition": content_disposition(schedules.filename(report, fmt)),
            "Cache-Control": "no-store",
        },
    )


@router.get(API + "/monthly", response_class=Response, responses=FILE)
def monthly(
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, Needs(Permission.analytics_view)],
    period: Period,
    format: Format = "pdf",
    team: QueryId = None,
) -> Response:
    """The monthly analysis report of ``period`` (``2026-11``)."""
    return report_file(db, clock, user, "monthly", period, format, team)


@router.get(API + "/quarterly", response_class=Response, responses=FILE)
def quarterly(
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, Needs(Permission.analytics_view)],
    period: Period,
    format: Format = "pdf",
    team: QueryId = None,
) -> Response:
    """The quarterly analysis report of ``period`` (``2026-Q4``)."""
    return report_file(db, clock, user, "quarterly", period, format, team)


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=128)
    kind: Literal["monthly", "quarterly"]
    day: int = Field(default=1, ge=1, le=28, strict=True)
    format: Literal["pdf", "xlsx"] = "pdf"
    locale: Literal["zh_CN", "en"] = "zh_CN"
    team_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    recipients: list[Annotated[str, Field(max_length=255)]] = Field(
        min_length=1, max_length=schedules.MAX_RECIPIENTS
    )


class RunOut(BaseModel):
    period: str
    filename: str
    size: int
    emails: int
    created_at: datetime


class ScheduleOut(BaseModel):
    id: int
    name: str
    kind: str
    day: int
    format: str
    locale: str
    team_id: int | None
    is_active: bool
    recipients: list[str]
    last_run: RunOut | None = None


def schedule_out(schedule: ReportSchedule, run: object | None = None) -> ScheduleOut:
    return ScheduleOut(
        id=schedule.id,
        name=schedule.name,
        kind=schedule.kind,
        day=schedule.day,
        format=schedule.format,
        locale=schedule.locale,
        team_id=schedule.team_id,
        is_active=schedule.is_active,
        recipients=[r.email for r in schedule.recipients],
        last_run=RunOut.model_validate(run, from_attributes=True) if run is not None else None,
    )


@router.get(API + "/schedules", response_model=list[ScheduleOut])
def list_schedules(
    session: ReadSession, user: Annotated[User, Needs(Permission.admin)]
) -> list[ScheduleOut]:
    found = schedules.listed(session)
    runs = schedules.last_runs(session, [s.id for s in found])
    return [schedule_out(s, runs.get(s.id)) for s in found]


@router.post(API + "/schedules", response_model=ScheduleOut, status_code=status.HTTP_201_CREATED)
def create_schedule(
    body: ScheduleBody,
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, NeedsW(Permission.admin)],
) -> ScheduleOut:
    with db.session() as session:
        schedule = schedules.create(
            session,
            clock,
            Actor.of(user),
            ScheduleIn(
                body.name,
                body.kind,
                body.day,
                body.format,
                body.locale,
                tuple(body.recipients),
                body.team_id,
            ),
        )
        session.commit()
        return schedule_out(schedule)


@router.delete(API + "/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_schedule(
    schedule_id: Id,
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, NeedsW(Permission.admin)],
) -> Response:
    with db.session() as session:
        schedules.delete(session, clock, Actor.of(user), schedule_id)
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
