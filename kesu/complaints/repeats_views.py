"""重复投诉 settings and rate: the admin page /admin/repeats and the JSON routes."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kesu.accounts.permissions import Needs, NeedsW, PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.views import AdminR, AdminW
from kesu.complaints import repeats
from kesu.complaints.access import require
from kesu.complaints.enums import Channel
from kesu.errors import InvalidInput, KesuError
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import (
    ClockDep,
    DatabaseDep,
    ReadSession,
    UserR,
    UserW,
    WriteSession,
    actor_for,
)
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, render

router = APIRouter()
Days = Annotated[int, Query(ge=1, le=366, description="the last N days, up to now")]
PAGE = [Depends(locale_dependency)]


class RepeatSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(ge=repeats.MIN_WINDOW_DAYS, le=repeats.MAX_WINDOW_DAYS)
    threshold: float = Field(ge=0.05, le=1.0, allow_inf_nan=False)


@router.get("/api/v1/repeats/settings", tags=["repeats"], dependencies=[Needs(Permission.admin)])
def get_settings(session: ReadSession, user: UserR) -> dict[str, Any]:
    """The window (days) and text-similarity threshold of repeat detection (admins)."""
    require(user, Permission.admin)
    return repeats.config_out(repeats.current(session))


@router.put("/api/v1/repeats/settings", tags=["repeats"], dependencies=[NeedsW(Permission.admin)])
def put_settings(
    body: RepeatSettingsIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Changes them for complaints registered from now on (admins; audited)."""
    with db.session() as session:
        require(user, Permission.admin)
        config = repeats.save(
            session, clock, actor_for(user), window_days=body.window_days, threshold=body.threshold
        )
        session.commit()
        return repeats.config_out(config)


@router.get("/api/v1/repeats/rate", tags=["repeats"], dependencies=[Needs(Permission.admin)])
def rate(
    session: ReadSession,
    user: UserR,
    clock: ClockDep,
    days: Days = 30,
    channel: Annotated[Channel | None, Query()] = None,
) -> dict[str, Any]:
    """Complaints received in the last ``days`` days, how many were repeats and the share."""
    require(user, Permission.admin)
    now = clock.now()
    return repeats.repeat_rate(session, now - timedelta(days=days), now, channel)


@router.get(
    "/admin/repeats", include_in_schema=False, dependencies=[*PAGE, PageNeeds(Permission.admin)]
)
def repeats_page(request: Request, session: ReadSession, user: AdminR, clock: ClockDep) -> Response:
    now = clock.now()
    rates = [(d, repeats.repeat_rate(session, now - timedelta(days=d), now)) for d in (7, 30, 90)]
    return render(
        request,
        "complaints/repeats.html",
        {"config": repeats.config_out(repeats.current(session)), "rates": rates},
    )


@router.post(
    "/admin/repeats", include_in_schema=False, dependencies=[*PAGE, PageNeedsW(Permission.admin)]
)
def save_page(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    try:
        window = _number(text(form, "window_days", 10), "window_days", int)
        threshold = _number(text(form, "threshold", 10), "threshold", float)
        repeats.save(session, clock, actor_for(user), window_days=int(window), threshold=threshold)
        session.commit()
        flash(request, _("已保存"))
    except KesuError as exc:
        session.rollback()
        flash(request, str(exc), "error")
    return redirect("/admin/repeats")


def _number(raw: str, field: str, kind: type[int] | type[float]) -> float:
    try:
        if not raw.isascii():
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise InvalidInput(_("请输入数字"), field=field) from None
