"""Pages: the public survey (/s/{token}, no login, mobile-first), the form on the tracking
page (``for_tracking``), the staff's survey card and resend, the admin's settings page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.permissions import PUBLIC, AdminPageR, AdminPageW, PageNeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.service import Actor
from kesu.accounts.views import PageUserW
from kesu.clock import Clock
from kesu.complaints.access import get_complaint_for_user
from kesu.complaints.enums import CHANNEL_LABELS, Channel
from kesu.complaints.models import Complaint
from kesu.config import get_settings
from kesu.errors import InvalidInput, KesuError, NotFound
from kesu.surveys import service
from kesu.surveys.api import public_status, questions, thanks
from kesu.surveys.models import Survey, SurveySetting
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession
from kesu.web.i18n import N_, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.params import Id, Token
from kesu.web.ratelimit import rate_limit
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
SURVEY_STATUS = {
    "scheduled": N_("待发送"),
    "sent": N_("已发送"),
    "answered": N_("已评价"),
    "expired": N_("已过期"),
    "cancelled": N_("已取消"),
}
FIELDS = ("timeliness", "solution", "attitude", "nps")


def _page(
    request: Request,
    session: Session,
    clock: Clock,
    survey: Survey,
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    message: str = "",
) -> Response:
    state = public_status(survey, clock.now())
    return render(
        request,
        "surveys/survey.html",
        {
            "survey": survey,
            "number": survey.complaint.number,
            "state": state,
            "questions": questions(),
            "error": error,
            "values": values or {},
            "back": "",
            "message": message,
        },
        status_code,
    )


@router.get("/s/{token}", dependencies=[PUBLIC, rate_limit("lookup", "rate_limit_lookup")])
def survey_page(request: Request, token: Token, session: ReadSession, clock: ClockDep) -> Response:
    return _page(request, session, clock, service.by_token(session, token))


def _answer_of(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    values = {name: text(form, name, 4) for name in FIELDS}
    values["comment"] = text(form, "comment", service.MAX_COMMENT + 1)
    data: dict[str, Any] = {"comment": values["comment"]}
    for name in FIELDS:
        raw = values[name]
        if not raw:
            raise_missing = InvalidInput(_("请为每一项打分"), field=name)
            return {"error": raise_missing}, values
        data[name] = int(raw) if raw.isascii() and raw.isdigit() else -1
    return data, values


@router.post("/s/{token}", dependencies=[PUBLIC, rate_limit("public")])
def survey_answer(
    request: Request, token: Token, form: CheckedForm, session: WriteSession, clock: ClockDep
) -> Response:
    survey = service.by_token(session, token)
    data, values = _answer_of(form)
    back = text(form, "back", 8) == "track"
    try:
        if "error" in data:
            raise data["error"]
        service.answer(session, clock, survey, data)
        session.commit()
    except KesuError as exc:
        session.rollback()
        if back:
            flash(request, exc.message, "error")
            return redirect(f"/t/{survey.complaint.tracking_token}#survey")
        survey = service.by_token(session, token)
        return _page(request, session, clock, survey, exc, values, exc.status_code)
    message = thanks(survey)
    flash(request, message)
    if back:
        return redirect(f"/t/{survey.complaint.tracking_token}")
    return redirect(f"/s/{token}")


def for_tracking(session: Session, complaint: Complaint, now: datetime) -> dict[str, Any] | None:
    """What the tracking page needs to show the open survey's form, or None."""
    survey = service.open_survey(session, complaint, now)
    if survey is None:
        return None
    return {"survey": survey, "questions": questions(), "back": "track", "values": {}}


def for_staff(session: Session, complaint: Complaint, now: datetime) -> list[dict[str, Any]]:
    return [
        {"row": s, "open": service.is_open(s, now), "url": service.link(session, s)}
        for s in service.of_complaint(session, complaint)
    ]


@router.post(
    "/complaints/{ref}/surveys/{survey_id}/resend",
    dependencies=[PageNeedsW(Permission.complaint_handle)],
)
def resend(
    request: Request,
    ref: Id,
    survey_id: Id,
    form: CheckedForm,
    session: WriteSession,
    user: PageUserW,
    clock: ClockDep,
) -> Response:
    complaint = get_complaint_for_user(session, user, ref, Permission.complaint_handle)
    survey = session.get(Survey, survey_id)
    if survey is None or survey.complaint_id != complaint.id:
        raise NotFound(_("没有这份评价：%(id)s") % {"id": survey_id}, field="survey_id")
    try:
        queued = service.resend(session, clock, Actor.of(user), survey)
        session.commit()
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect(f"/complaints/{complaint.number}#surveys")
    flash(request, _("评价已重新发送") if queued else _("客户没有可用的联系方式，请把链接告诉客户"))
    return redirect(f"/complaints/{complaint.number}#surveys")


# ---- admin settings ---------------------------------------------------------------------


def _channels() -> list[dict[str, str]]:
    return [{"code": "*", "label": _("默认（所有渠道）")}] + [
        {"code": c.value, "label": _(CHANNEL_LABELS[c])} for c in Channel
    ]


def _settings_page(
    request: Request, session: Session, error: KesuError | None = None, status_code: int = 200
) -> Response:
    rows = {r.channel: r for r in session.query(SurveySetting)}
    return render(
        request,
        "surveys/settings.html",
        {
            "channels": _channels(),
            "rows": rows,
            "error": error,
            "override": get_settings().survey_delay_minutes,
        },
        status_code,
    )


@router.get("/admin/surveys")
def settings_page(request: Request, session: ReadSession, user: AdminPageR) -> Response:
    return _settings_page(request, session)


def _number(form: FormData, name: str) -> int | None:
    raw = text(form, name, 7)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(_("请填写整数：%(name)s") % {"name": name}, field=name)
    return int(raw)


@router.post("/admin/surveys")
def save_settings(
    request: Request, form: CheckedForm, session: WriteSession, user: AdminPageW, clock: ClockDep
) -> Response:
    try:
        for channel in _channels():
            code = channel["code"]
            values = [
                _number(form, f"{name}.{code}")
                for name in ("delay_minutes", "validity_days", "archive_delay_minutes")
            ]
            row = session.get(SurveySetting, code)
            current = (
                [None, None, None]
                if row is None
                else [row.delay_minutes, row.validity_days, row.archive_delay_minutes]
            )
            if values != current:
                service.save_setting(session, clock, Actor.of(user), code, *values)
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _settings_page(request, session, exc, exc.status_code)
    flash(request, _("设置已保存"))
    return redirect("/admin/surveys")
