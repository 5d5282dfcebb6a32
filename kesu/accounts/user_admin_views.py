"""Admin pages for people: one user's page (profile, role and team, password reset,
re-activation) and agents' assignment profiles (skills, absence, shift).

Every change goes through a service (``kesu.accounts.service``, ``kesu.routing.rules``) that
audits it; a refused form is shown again with the message beside the field.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts import service
from kesu.accounts.models import Team, User
from kesu.accounts.permissions import AdminPageR, AdminPageW, PageNeeds, PageNeedsW, Permission
from kesu.accounts.roles import can
from kesu.clock import Clock
from kesu.complaints.numbering import LOCAL_TZ
from kesu.errors import InvalidInput, KesuError, NotFound
from kesu.routing import rules
from kesu.routing.models import AgentProfile
from kesu.sla.calendar import WEEKDAYS
from kesu.surveys.service import points_of as survey_points_of
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import N_, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NO_STORE = {"Cache-Control": "no-store"}
WEEKDAY_LABELS = {
    "mon": N_("周一"),
    "tue": N_("周二"),
    "wed": N_("周三"),
    "thu": N_("周四"),
    "fri": N_("周五"),
    "sat": N_("周六"),
    "sun": N_("周日"),
}
ASSIGNABLE_ROLES = ("agent", "team_lead")
_HOURS = re.compile(r"^([01]\d|2[0-4]):[0-5]\d\s*-\s*([01]\d|2[0-4]):[0-5]\d$")


def _target(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("没有这个用户"), field="user")
    return user


def _teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.is_active).order_by(Team.id)))


# ---- one user ------------------------------------------------------------------------------


def _user_page(
    request: Request,
    session: Session,
    target: User,
    status_code: int = 200,
    error: KesuError | None = None,
    form_name: str = "",
    values: dict[str, str] | None = None,
    new_password: str | None = None,
) -> Response:
    shown = {
        "display_name": target.display_name,
        "email": target.email or "",
        "phone": target.phone or "",
        "role": target.role,
        "team": target.team.code if target.team else "",
    }
    if values:
        shown.update(values)
    response = render(
        request,
        "accounts/user_edit.html",
        {
            "target": target,
            "teams": _teams(session),
            "values": shown,
            "error": error,
            "form_name": form_name,
            "new_password": new_password,
            "survey_points": survey_points_of(session, target.id),
        },
        status_code,
    )
    if new_password is not None:
        response.headers.update(NO_STORE)
    return response


def _refused(
    request: Request,
    session: Session,
    user_id: int,
    exc: KesuError,
    form_name: str,
    values: dict[str, str] | None = None,
) -> Response:
    session.rollback()
    return _user_page(
        request, session, _target(session, user_id), exc.status_code, exc, form_name, values
    )


@router.get("/admin/users/{user_id}")
def user_page(
    request: Request, user_id: UserId, session: ReadSession, user: AdminPageR
) -> Response:
    return _user_page(request, session, _target(session, user_id))


@router.post("/admin/users/{user_id}/profile")
def update_profile(
    request: Request,
    user_id: UserId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminPageW,
) -> Response:
    values = {k: text(form, k) for k in ("display_name", "email", "phone")}
    target = _target(session, user_id)
    try:
        service.update_user_profile(
            session,
            clock,
            actor_for(user),
            target,
            display_name=text(form, "display_name", 200),
            email=text(form, "email", 320) or None,
            phone=text(form, "phone", 64) or None,
        )
        session.commit()
    except KesuError as exc:
        return _refused(request, session, user_id, exc, "profile", values)
    flash(request, _("已保存用户 %(name)s 的资料") % {"name": target.username})
    return redirect(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/role")
def change_role(
    request: Request,
    user_id: UserId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminPageW,
) -> Response:
    values = {k: text(form, k, 64) for k in ("role", "team")}
    target = _target(session, user_id)
    try:
        service.change_user_role(
            session,
            clock,
            actor_for(user),
            target,
            role=values["role"],
            team_code=values["team"] or None,
        )
        session.commit()
    except KesuError as exc:
        return _refused(request, session, user_id, exc, "role", values)
    flash(request, _("已修改用户 %(name)s 的角色和团队") % {"name": target.username})
    return redirect(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/password")
def reset_password(
    request: Request,
    user_id: UserId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminPageW,
) -> Response:
    """``mode=generate``: a random password shown once on the answer (never stored in the
    session or a flash); ``mode=set``: the one typed in (twice)."""
    target = _target(session, user_id)
    generate = text(form, "mode") == "generate"
    typed = str(form.get("password") or "")
    try:
        if not generate and typed != str(form.get("password_again") or ""):
            raise InvalidInput(_("两次输入的密码不一致"), field="password_again")
        password = service.reset_password(
            session, clock, actor_for(user), target, None if generate else typed
        )
        session.commit()
    except KesuError as exc:
        return _refused(request, session, user_id, exc, "password")
    if not generate:
        flash(request, _("已重设用户 %(name)s 的密码") % {"name": target.username})
        return redirect(f"/admin/users/{user_id}")
    return _user_page(request, session, _target(session, user_id), new_password=password)


@router.post("/admin/users/{user_id}/reactivate")
def reactivate(
    request: Request,
    user_id: UserId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminPageW,
) -> Response:
    target = _target(session, user_id)
    service.reactivate_user(session, clock, actor_for(user), target)
    session.commit()
    flash(request, _("已重新启用用户 %(name)s") % {"name": target.username})
    return redirect(f"/admin/users/{user_id}")


# ---- agents: skills, absence, shift --------------------------------------------------------


def absent_date(profile: AgentProfile | None) -> str:
    """The last local day of an absence (``absent_until`` is the start of the day after)."""
    if profile is None or profile.absent_until is None:
        return ""
    return (profile.absent_until.astimezone(LOCAL_TZ) - timedelta(minutes=1)).date().isoformat()


def shift_text(shift: dict[str, Any] | None, day: str) -> str:
    hours = (shift or {}).get("hours", {}).get(day, [])
    return ", ".join(f"{a}-{b}" for a, b in hours)


def shift_summary(shift: dict[str, Any] | None) -> str:
    if not shift:
        return _("不限班次")
    days = [
        f"{_(WEEKDAY_LABELS[d])} {shift_text(shift, d)}" for d in WEEKDAYS if shift_text(shift, d)
    ]
    return "；".join(days) or _("不排班")


HELPERS = {
    "absent_date": absent_date,
    "shift_text": shift_text,
    "shift_summary": shift_summary,
    "WEEKDAYS": WEEKDAYS,
    "weekday_label": lambda d: _(WEEKDAY_LABELS[d]),
}


@router.get("/admin/agents")
def agents_page(request: Request, session: ReadSession, user: AdminPageR) -> Response:
    people = list(
        session.scalars(
            select(User)
            .where(User.is_active, User.role.in_(ASSIGNABLE_ROLES))
            .order_by(User.team_id, User.username)
        )
    )
    profiles = {
        p.user_id: p
        for p in session.scalars(
            select(AgentProfile).where(AgentProfile.user_id.in_([p.id for p in people]))
        )
    }
    return render(
        request,
        "accounts/user_agents.html",
        {"people": people, "profiles": profiles, **HELPERS},
    )


def _agent_page(
    request: Request,
    session: Session,
    target: User,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    profile = session.get(AgentProfile, target.id)
    shown: dict[str, Any] = values or {
        "skills": ", ".join(profile.skills) if profile else "",
        "absent_until": absent_date(profile),
        "auto_assign": profile.auto_assign if profile else target.role == "agent",
        "use_shift": bool(profile and profile.shift),
        "use_statutory": bool((profile.shift or {}).get("use_statutory", True))
        if profile
        else True,
        **{f"shift_{d}": shift_text(profile.shift if profile else None, d) for d in WEEKDAYS},
    }
    return render(
        request,
        "accounts/user_agent.html",
        {"target": target, "values": shown, "error": error, **HELPERS},
        status_code,
    )


@router.get("/admin/agents/{user_id}")
def agent_page(
    request: Request, user_id: UserId, session: ReadSession, user: AdminPageR
) -> Response:
    return _agent_page(request, session, _target(session, user_id))


def _skills(form: FormData) -> list[str]:
    raw = re.split(r"[,，、\n]", text(form, "skills", 2000))
    skills = [s.strip() for s in raw if s.strip()]
    if len(skills) > 50:
        raise InvalidInput(_("技能最多 50 个"), field="skills")
    for skill in skills:
        if len(skill) > 32:
            raise InvalidInput(_("每个技能最多 32 个字符"), field="skills")
    return skills


def _absent_until(form: FormData) -> datetime | None:
    return _absent_until_value(text(form, "absent_until", 32))


def _absent_until_value(value: str) -> datetime | None:
    if not value:
        return None
    try:
        last_day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("日期格式应为 YYYY-MM-DD"), field="absent_until") from None
    if not 2000 <= last_day.year <= 2999:
        raise InvalidInput(_("日期格式应为 YYYY-MM-DD"), field="absent_until")
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)


def _shift(form: FormData) -> dict[str, Any] | None:
    if form.get("use_shift") != "on":
        return None
    hours: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        value = text(form, f"shift_{day}", 200)
        pairs = [p.strip() for p in re.split(r"[,，;；]", value) if p.strip()]
        for pair in pairs:
            if not _HOURS.match(pair):
                raise InvalidInput(
                    _("班次时间格式应为 09:00-18:00，多段用逗号分隔"), field=f"shift.hours.{day}"
                )
        if pairs:
            hours[day] = [[x.strip() for x in p.split("-")] for p in pairs]
    return {"hours": hours, "use_statutory": form.get("use_statutory") == "on"}


@router.post("/admin/agents/{user_id}")
def update_agent(
    request: Request,
    user_id: UserId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminPageW,
) -> Response:
    target = _target(session, user_id)
    values: dict[str, Any] = {k: text(form, k, 2000) for k in ("skills", "absent_until")}
    values.update({f"shift_{d}": text(form, f"shift_{d}", 200) for d in WEEKDAYS})
    for box in ("auto_assign", "use_shift", "use_statutory"):
        values[box] = form.get(box) == "on"
    try:
        save_agent_profile(session, clock, user, target, form)
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _agent_page(
            request, session, _target(session, user_id), exc.status_code, exc, values
        )
    flash(request, _("已保存 %(name)s 的分配设置") % {"name": target.label})
    return redirect("/admin/agents")


def save_agent_profile(
    session: Session, clock: Clock, user: User, target: User, form: FormData
) -> AgentProfile:
    return rules.set_profile(
        session,
        clock,
        actor_for(user),
        target,
        skills=_skills(form),
        absent_until=_absent_until(form),
        shift=_shift(form),
        auto_assign=form.get("auto_assign") == "on",
    )


# ---- one's own absence (agents and team leads, on their profile) ---------------------------

SignedInR = Annotated[User, PageNeeds(Permission.signed_in)]
AssignableW = Annotated[User, PageNeedsW(Permission.assignable)]  # agents and team leads


def _absence_page(
    request: Request,
    session: Session,
    user: User,
    status_code: int = 200,
    error: KesuError | None = None,
    value: str | None = None,
) -> Response:
    profile = session.get(AgentProfile, user.id)
    return render(
        request,
        "accounts/user_absence.html",
        {
            "may_set": can(user.role, Permission.assignable),
            "current": absent_date(profile),
            "values": {"absent_until": absent_date(profile) if value is None else value},
            "error": error,
        },
        status_code,
    )


@router.get("/me/absence")
def my_absence_page(request: Request, session: ReadSession, user: SignedInR) -> Response:
    return _absence_page(request, session, user)


@router.post("/me/absence")
def set_my_absence(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AssignableW
) -> Response:
    value = "" if form.get("clear") else text(form, "absent_until", 32)
    try:
        until = _absent_until_value(value)
        if until is not None and until <= clock.now():
            raise InvalidInput(_("日期不能早于今天"), field="absent_until")
        rules.set_absence(session, clock, actor_for(user), user, until)
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _absence_page(request, session, user, exc.status_code, exc, value)
    flash(request, _("已设置缺席至 %(date)s") % {"date": value} if value else _("已取消缺席"))
    return redirect("/me/absence")
