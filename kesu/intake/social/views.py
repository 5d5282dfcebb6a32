"""Pages: the sources (admins, /admin/social) and the mentions review queue (/mentions)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.models import User
from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.views import AdminR, AdminW
from kesu.errors import KesuError
from kesu.intake.social import service
from kesu.intake.social.health import health
from kesu.intake.social.models import SocialSource
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, SettingsDep, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import Id
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
Before = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


# -- sources -------------------------------------------------------------------------------------


def _preset(name: str) -> dict[str, Any]:
    for example in service.examples():
        if name and name in (example["platform"], example.get("code")):
            code = example.get("code") or example["platform"]
            return {
                "code": code,
                "name": example["name"],
                "platform": example["platform"],
                "is_active": "1",
                **{f"map_{k}": v for k, v in example["mapping"].items()},
            }
    return {"platform": "weibo", "is_active": "1"}


def _values(row: SocialSource) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "platform": row.platform,
        "is_active": "1" if row.is_active else "",
        **{f"map_{k}": v for k, v in (row.mapping or {}).items()},
    }


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k, 200) for k in ("code", "name", "platform")}
    values["is_active"] = "1" if form.get("is_active") == "1" else ""
    for target in service.TARGETS:
        values[f"map_{target}"] = text(form, f"map_{target}", 300)
    return values


def _mapping(form: FormData) -> dict[str, str]:
    return {t: text(form, f"map_{t}", 300) for t in service.TARGETS if text(form, f"map_{t}", 300)}


def _page(
    request: Request,
    session: Session,
    base_url: str,
    row: SocialSource | None = None,
    values: dict[str, Any] | None = None,
    error: KesuError | None = None,
    secret: str | None = None,
    status_code: int = 200,
) -> Response:
    rows = list(session.scalars(select(SocialSource).order_by(SocialSource.code)))
    now = request.app.state.clock.now()
    return render(
        request,
        "social/sources.html" if row is None else "social/source.html",
        {
            "rows": rows,
            "row": row,
            "health": {h.source: h for h in health(session, now)},
            "values": values if values is not None else (_values(row) if row else _preset("")),
            "error": error,
            "secret": secret,
            "targets": service.TARGETS,
            "platforms": [p.value for p in service.PLATFORMS],
            "platform_label": service.platform_label,
            "examples": service.examples(),
            "webhook_url": (
                f"{base_url.rstrip('/')}/api/v1/intake/social/{row.code}" if row else ""
            ),
        },
        status_code,
    )


@router.get("/admin/social")
def sources_page(
    request: Request,
    session: ReadSession,
    settings: SettingsDep,
    user: AdminR,
    preset: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    return _page(request, session, settings.base_url, values=_preset(preset))


@router.post("/admin/social")
def create_source(
    request: Request,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
    user: AdminW,
) -> Response:
    try:
        row = service.create_source(
            session,
            clock,
            actor_for(user),
            code=text(form, "code", 100),
            name=text(form, "name", 200),
            platform=text(form, "platform", 32),
            mapping=_mapping(form),
            is_active=form.get("is_active") == "1",
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _page(
            request,
            session,
            settings.base_url,
            None,
            _form_values(form),
            exc,
            None,
            exc.status_code,
        )
    # The secret is shown on this answer only (never in a redirect, a flash or a log).
    return _page(request, session, settings.base_url, row, secret=row.secret)


@router.get("/admin/social/{source_id}")
def source_page(
    request: Request, source_id: Id, session: ReadSession, settings: SettingsDep, user: AdminR
) -> Response:
    return _page(request, session, settings.base_url, service.get_source(session, source_id))


@router.post("/admin/social/{source_id}")
def update_source(
    request: Request,
    source_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
    user: AdminW,
) -> Response:
    row = service.get_source(session, source_id)
    fields = {
        "name": text(form, "name", 200),
        "platform": text(form, "platform", 32),
        "mapping": _mapping(form),
        "is_active": form.get("is_active") == "1",
    }
    try:
        service.update_source(session, clock, actor_for(user), row, fields)
        session.commit()
    except KesuError as exc:
        session.rollback()
        row = service.get_source(session, source_id)
        values = {**_form_values(form), "code": row.code}
        return _page(request, session, settings.base_url, row, values, exc, None, exc.status_code)
    flash(request, _("已保存来源「%(name)s」") % {"name": row.name})
    return redirect(f"/admin/social/{row.id}")


@router.post("/admin/social/{source_id}/rotate")
def rotate_secret(
    request: Request,
    source_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
    user: AdminW,
) -> Response:
    row = service.get_source(session, source_id)
    secret = service.rotate_secret(session, clock, actor_for(user), row)
    session.commit()
    return _page(request, session, settings.base_url, row, secret=secret)


# -- the mentions queue --------------------------------------------------------------------------


@router.get("/mentions", dependencies=[PageNeeds(Permission.mention_review)])
def mentions_page(
    request: Request,
    session: ReadSession,
    status: Annotated[str, Query(max_length=16)] = "pending",
    before: Before = None,
) -> Response:
    shown = status if status in service.STATUSES else "pending"
    rows, next_before = service.mentions(session, shown, None, 30, before)
    return render(
        request,
        "social/mentions.html",
        {
            "section": "mentions",
            "rows": rows,
            "status": shown,
            "statuses": service.STATUSES,
            "counts": service.status_counts(session),
            "numbers": service.complaint_numbers(session, rows),
            "next_before": next_before,
            "status_label": service.status_label,
            "platform_label": service.platform_label,
        },
    )


@router.post("/mentions/{mention_id}/convert")
def convert(
    request: Request,
    mention_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: Annotated[User, PageNeedsW(Permission.mention_review)],
) -> Response:
    mention = service.get_mention(session, mention_id)
    try:
        complaint = service.convert(session, clock, user, mention)
        session.commit()
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect("/mentions")
    flash(request, _("已转为投诉 %(number)s") % {"number": complaint.number})
    return redirect("/mentions")


@router.post("/mentions/{mention_id}/dismiss")
def dismiss(
    request: Request,
    mention_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: Annotated[User, PageNeedsW(Permission.mention_review)],
) -> Response:
    mention = service.get_mention(session, mention_id)
    try:
        service.dismiss(session, clock, user, mention, text(form, "reason", 1000))
        session.commit()
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect("/mentions")
    flash(request, _("已忽略这条舆情"))
    return redirect("/mentions")
