"""HTML pages: sign in and out, and the admin pages for users and teams.

Also the page dependencies every staff page uses (``PageUserR`` / ``PageUserW`` / ``AdminW`` …):
they resolve the user exactly as the API does (``kesu.web.deps``) and keep a plain copy for the
layout. An anonymous browser is sent to ``/login?next=…`` by ``kesu.web.errors``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts import api, service, sessions
from kesu.accounts import login as login_service
from kesu.accounts.models import Team, User
from kesu.accounts.permissions import PUBLIC, AdminPageR, AdminPageW, PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission, Role, can
from kesu.accounts.schemas import TokenCreate
from kesu.accounts.throttle import LoginThrottled
from kesu.clock import Clock
from kesu.config import Settings
from kesu.errors import InvalidInput, KesuError
from kesu.surveys.service import points_of as survey_points_of
from kesu.web.csrf import CheckedForm, rotate, text
from kesu.web.deps import (
    ClockDep,
    DatabaseDep,
    ReadSession,
    SettingsDep,
    UserR,
    UserW,
    WriteSession,
    actor_for,
)
from kesu.web.i18n import N_, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.params import Id, NextUrl
from kesu.web.templating import NavUser, flash, redirect, render, safe_next

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)


def _remember(request: Request, user: User) -> User:
    request.state.nav = NavUser(user.id, user.label, user.role, user.role == Role.admin.value)
    return user


def page_user_read(request: Request, user: UserR) -> User:
    return _remember(request, user)


def page_user_write(request: Request, user: UserW, session: WriteSession) -> User:
    """``UserW`` resolves the user in a short session of its own; a write view gets the same
    user from its own session, so it can be given to a service (claiming: assignee = me)."""
    return _remember(request, session.get(User, user.id) or user)


PageUserR = Annotated[User, Depends(page_user_read)]
PageUserW = Annotated[User, Depends(page_user_write)]


# The admin pages' user: declared ``Permission.admin`` (kesu.accounts.permissions), so the
# route table test sees it. Other pages declare their own permission with PageNeeds(W).
AdminR = AdminPageR
AdminW = AdminPageW


# ---- sign in / out -------------------------------------------------------------------------


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/login", dependencies=[PUBLIC])
def login_page(request: Request, next: NextUrl = "/") -> Response:
    if request.session.get(sessions.COOKIE_KEY):
        return redirect(safe_next(next))
    return render(request, "accounts/login.html", {"next": safe_next(next), "username": ""})


@router.post("/login", dependencies=[PUBLIC])
def login(
    request: Request, form: CheckedForm, db: DatabaseDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """Throttled per account and address; the password hash runs outside any write lock."""
    username, target = text(form, "username", 64), safe_next(text(form, "next"))
    context = {"next": target, "username": username}
    try:
        signed = login_service.attempt(
            db,
            clock,
            settings,
            username,
            str(form.get("password") or ""),
            client_address(request),
        )
    except LoginThrottled as exc:
        response = render(
            request, "accounts/login.html", {**context, "error": exc.message}, status_code=429
        )
        response.headers.update(exc.headers)
        return response
    if signed is None or signed.session_token is None:
        return render(
            request,
            "accounts/login.html",
            {**context, "error": _("用户名或密码不正确，或账号已停用。")},
            status_code=400,
        )
    request.session.clear()  # a new session on sign-in: nothing from before carries over
    request.session[sessions.COOKIE_KEY] = signed.session_token
    rotate(request)
    return redirect(target)


@router.post("/logout", dependencies=[PUBLIC])
def logout(request: Request, form: CheckedForm, db: DatabaseDep, clock: ClockDep) -> Response:
    """Ends the server-side session: the cookie is worthless afterwards, even if kept."""
    sid = request.session.get(sessions.COOKIE_KEY)
    if isinstance(sid, str) and sid:
        login_service.end_session(db, clock, sid)
    request.session.clear()
    return redirect("/login")


# ---- admin: users --------------------------------------------------------------------------


def _teams(session: Session, active_only: bool = True) -> list[Team]:
    stmt = select(Team).order_by(Team.id)
    return list(session.scalars(stmt.where(Team.is_active) if active_only else stmt))


def _users_page(
    request: Request,
    session: Session,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    users = list(session.scalars(select(User).order_by(User.is_active.desc(), User.username)))
    return render(
        request,
        "accounts/users.html",
        {"users": users, "teams": _teams(session), "values": values or {}, "error": error},
        status_code,
    )


@router.get("/admin")
def admin_home(user: AdminR) -> Response:
    return redirect("/admin/users")


@router.get("/admin/users")
def users_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _users_page(request, session)


@router.post("/admin/users")
def create_user(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    values = {k: text(form, k) for k in ("username", "display_name", "role", "team", "email")}
    try:
        created = service.create_user(
            session,
            clock,
            actor_for(user),
            username=values["username"],
            password=str(form.get("password") or ""),
            role=values["role"],
            team_code=values["team"] or None,
            display_name=values["display_name"],
            email=values["email"] or None,
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _users_page(request, session, exc.status_code, exc, values)
    flash(request, _("已创建用户 %(name)s") % {"name": created.username})
    return redirect("/admin/users")


@router.post("/admin/users/{user_id}/deactivate")
def deactivate_user(
    request: Request,
    user_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    target = service.get_user(session, user_id)
    service.deactivate_user(session, clock, actor_for(user), target)
    session.commit()
    flash(request, _("已停用用户 %(name)s") % {"name": target.username})
    return redirect("/admin/users")


# ---- admin: teams --------------------------------------------------------------------------


def _teams_page(
    request: Request,
    session: Session,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "accounts/teams.html",
        {"teams": _teams(session, active_only=False), "values": values or {}, "error": error},
        status_code,
    )


@router.get("/admin/teams")
def teams_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _teams_page(request, session)


@router.post("/admin/teams")
def create_team(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    values = {k: text(form, k) for k in ("code", "name", "name_en")}
    try:
        team = service.create_team(
            session, clock, actor_for(user), values["code"], values["name"], values["name_en"]
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _teams_page(request, session, exc.status_code, exc, values)
    flash(request, _("已创建团队 %(name)s") % {"name": team.name})
    return redirect("/admin/teams")


# ---- one's own API tokens ------------------------------------------------------------------

TOKEN_STATES = {"active": N_("有效"), "expired": N_("已过期"), "revoked": N_("已吊销")}


def _tokens_page(
    request: Request,
    session: Session,
    user: User,
    clock: Clock,
    settings: Settings,
    *,
    created: str | None = None,
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "accounts/tokens.html",
        {
            "tokens": [
                {**api.token_info(t, user.username, clock)}
                for t in service.list_tokens(session, user.id)
            ],
            "states": {k: _(v) for k, v in TOKEN_STATES.items()},
            "can_create": can(user.role, Permission.token_create),
            "created": created,
            "error": error,
            "values": values or {"days": str(settings.token_days_default)},
            "days_max": settings.token_days_max,
            "survey_points": survey_points_of(session, user.id),
        },
        status_code,
    )


@router.get("/me/tokens")
def tokens_page(
    request: Request,
    session: ReadSession,
    user: Annotated[User, PageNeeds(Permission.signed_in)],
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """The signed-in user's API tokens: state, expiry, revoke buttons and a create form."""
    return _tokens_page(request, session, user, clock, settings)


@router.post("/me/tokens")
def create_token_page(
    request: Request,
    form: CheckedForm,
    db: DatabaseDep,
    session: ReadSession,
    user: Annotated[User, PageNeeds(Permission.token_create)],
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    values = {"name": text(form, "name", 128), "days": text(form, "days", 5)}
    try:
        days = parse_days(values["days"])
        body = TokenCreate.model_construct(
            name=values["name"], password=str(form.get("password") or "") or None, days=days
        )
        plain, _row, _owner = api.mint_for(request, body, db, user, clock, settings)
    except LoginThrottled as exc:
        response = _tokens_page(
            request, session, user, clock, settings, error=exc, values=values, status_code=429
        )
        response.headers.update(exc.headers)
        return response
    except KesuError as exc:
        return _tokens_page(
            request,
            session,
            user,
            clock,
            settings,
            error=exc,
            values=values,
            status_code=exc.status_code,
        )
    session.expire_all()
    return _tokens_page(request, session, user, clock, settings, created=plain, status_code=201)


def parse_days(value: str) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 4) or int(value) < 1:
        raise InvalidInput(_("有效期需为正整数（天）"), field="days")
    return int(value)


@router.post("/me/tokens/{token_id}/revoke")
def revoke_token_page(
    request: Request,
    token_id: api.TokenId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: Annotated[User, PageNeedsW(Permission.signed_in)],
) -> Response:
    token = service.revoke_token(session, clock, actor_for(user), token_id)
    session.commit()
    flash(request, _("已吊销 API token %(prefix)s…") % {"prefix": token.prefix})
    return redirect("/me/tokens")
