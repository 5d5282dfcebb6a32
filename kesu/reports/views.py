"""Pages: /reports (pick a period, download the PDF or Excel; admins manage the schedules)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import AdminPageW, PageNeeds
from kesu.accounts.roles import Permission, Role
from kesu.accounts.service import Actor
from kesu.complaints.numbering import LOCAL_TZ
from kesu.errors import KesuError
from kesu.reports import schedules
from kesu.reports.api import report_file
from kesu.reports.periods import containing, previous
from kesu.reports.schedules import ScheduleIn
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, WriteSession
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import Id, QueryId
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
Viewer = Annotated[User, PageNeeds(Permission.analytics_view)]


def _quarters(today: date, count: int = 8) -> list[str]:
    codes = []
    period = containing("quarterly", today)
    for _index in range(count):
        codes.append(period.code)
        period = previous("quarterly", period.start)
    return codes


def _page(
    request: Request,
    session: Session,
    user: User,
    today: date,
    error: KesuError | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    admin = user.role == Role.admin
    found = schedules.listed(session) if admin else []
    return render(
        request,
        "reports/index.html",
        {
            "month": previous("monthly", today).code,
            "month_max": containing("monthly", today).code,
            "quarters": _quarters(today),
            "quarter": previous("quarterly", today).code,
            "is_admin": admin,
            "scoped": user.role == Role.team_lead,
            "schedules": found,
            "runs": schedules.last_runs(session, [s.id for s in found]),
            "teams": list(session.scalars(select(Team).order_by(Team.name))) if admin else [],
            "error": error,
            "values": values or {},
        },
        status_code=status_code,
    )


def _today(clock: ClockDep) -> date:
    return clock.now().astimezone(LOCAL_TZ).date()


@router.get("/reports")
def reports_page(request: Request, session: ReadSession, user: Viewer, clock: ClockDep) -> Response:
    return _page(request, session, user, _today(clock))


@router.get("/reports/download")
def download(
    request: Request,
    db: DatabaseDep,
    session: ReadSession,
    user: Viewer,
    clock: ClockDep,
    kind: Annotated[str, Query(max_length=16)] = "monthly",
    period: Annotated[str, Query(max_length=16)] = "",
    format: Annotated[str, Query(max_length=8)] = "pdf",
    team: QueryId = None,
) -> Response:
    try:
        if kind not in ("monthly", "quarterly"):
            raise KesuError(_("报告类型只能是 monthly 或 quarterly"), field="kind")
        if format not in ("pdf", "xlsx"):
            raise KesuError(_("格式只能是 pdf 或 xlsx"), field="format")
        return report_file(db, clock, user, kind, period, format, team)
    except KesuError as exc:
        status = exc.status_code if exc.status_code != 400 else 422
        return _page(request, session, user, _today(clock), exc, status_code=status)


@router.post("/reports/schedules")
def create_schedule(
    request: Request, form: CheckedForm, session: WriteSession, user: AdminPageW, clock: ClockDep
) -> Response:
    values = {
        k: text(form, k, 2000)
        for k in ("name", "kind", "day", "format", "locale", "team", "recipients")
    }
    try:
        day = values["day"]
        if not (day.isascii() and day.isdigit() and len(day) <= 2):
            raise KesuError(_("发送日应在 1 到 28 之间"), field="day")
        team = values["team"]
        if team and not (team.isascii() and team.isdigit() and len(team) <= 9):
            raise KesuError(_("团队不存在"), field="team_id")
        recipients = [
            part for chunk in values["recipients"].splitlines() for part in chunk.split(",")
        ]
        schedules.create(
            session,
            clock,
            Actor.of(user),
            ScheduleIn(
                values["name"],
                values["kind"],
                int(day),
                values["format"],
                values["locale"],
                tuple(recipients),
                int(team) if team else None,
            ),
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        status = exc.status_code if exc.status_code != 400 else 422
        return _page(request, session, user, _today(clock), exc, values, status)
    flash(request, _("报告计划已保存"))
    return redirect("/reports")


@router.post("/reports/schedules/{schedule_id}/delete")
def delete_schedule(
    request: Request,
    schedule_id: Id,
    form: CheckedForm,
    session: WriteSession,
    user: AdminPageW,
    clock: ClockDep,
) -> Response:
    try:
        schedules.delete(session, clock, Actor.of(user), schedule_id)
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _page(request, session, user, _today(clock), exc, status_code=exc.status_code)
    flash(request, _("报告计划已删除"))
    return redirect("/reports")
