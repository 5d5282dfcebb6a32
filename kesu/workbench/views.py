"""The workbench's forms: the bulk-action bar and saved views (save, rename, delete).

Thin: parse the form, call ``kesu.complaints.bulk`` / ``kesu.workbench.saved``, commit,
flash what happened and go back to the list.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from kesu.accounts.models import User
from kesu.accounts.permissions import NeedsW, PageNeedsW, Permission
from kesu.complaints import bulk
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, safe_next
from kesu.workbench import saved

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
ViewId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Handler = Annotated[User, PageNeedsW(Permission.complaint_handle)]
Staff = Annotated[User, PageNeedsW(Permission.signed_in)]
SHOWN_SKIPS = 20


def _back(form: FormData) -> str:
    return safe_next(text(form, "back", 2000))


def _bulk_value(form: FormData, action: str) -> Any:
    """The bar's control for ``action``: ``assign`` is "team:<id>" or "user:<id>"."""
    if action == "assign":
        kind, _sep, ref = text(form, "assign").partition(":")
        key = {"team": "team_id", "user": "assignee_id"}.get(kind)
        return {key: ref, "reason": text(form, "reason", 500) or None} if key else {}
    return text(form, action, 300)


@router.post("/bulk", dependencies=[NeedsW(Permission.complaint_handle)])
def bulk_action(
    request: Request, form: CheckedForm, session: WriteSession, user: Handler, clock: ClockDep
) -> Response:
    """The checked rows of the workbench, one action, one transaction."""
    action = text(form, "action")
    ids = bulk.parse_ids([v for v in form.getlist("ids") if isinstance(v, str)])
    bulk.check_action(user, action)
    value = bulk.resolve_value(session, action, _bulk_value(form, action))
    result = bulk.apply(session, clock, actor_for(user), user, ids, action, value)
    session.commit()
    flash(request, _summary(result))
    return redirect(_back(form))


def _summary(result: bulk.BulkResult) -> str:
    done = _("已更新 %(n)d 件，跳过 %(m)d 件") % {
        "n": len(result.updated),
        "m": len(result.skipped),
    }
    if not result.skipped:
        return done
    parts = [
        _("%(number)s：%(reason)s") % {"number": s.number or f"#{s.id}", "reason": s.message}
        for s in result.skipped[:SHOWN_SKIPS]
    ]
    more = len(result.skipped) - SHOWN_SKIPS
    if more > 0:
        parts.append(_("另有 %(n)d 件") % {"n": more})
    return done + _("（%(list)s）") % {"list": _("；").join(parts)}


@router.post("/views", dependencies=[NeedsW(Permission.signed_in)])
def save_view(
    request: Request, form: CheckedForm, session: WriteSession, user: Staff, clock: ClockDep
) -> Response:
    """Saves the workbench's current filters and sort (hidden ``v_*`` fields) under a name."""
    query = {
        key.removeprefix("v_"): value
        for key, value in form.items()
        if key.startswith("v_") and isinstance(value, str)
    }
    team = text(form, "team_id")
    view = saved.create_view(
        session,
        clock,
        actor_for(user),
        user,
        text(form, "name", 200),
        query,
        text(form, "visibility") or "private",
        int(team) if team.isascii() and team.isdigit() and len(team) < 10 else None,
    )
    session.commit()
    flash(request, _("已保存视图「%(name)s」") % {"name": view.name})
    return redirect(saved.url_of(view))


@router.post("/views/{view_id}/rename", dependencies=[NeedsW(Permission.signed_in)])
def rename_view(
    request: Request,
    view_id: ViewId,
    form: CheckedForm,
    session: WriteSession,
    user: Staff,
    clock: ClockDep,
) -> Response:
    name = text(form, "name", 200)
    view = saved.rename_view(session, clock, actor_for(user), user, view_id, name)
    session.commit()
    flash(request, _("视图已改名为「%(name)s」") % {"name": view.name})
    return redirect(saved.url_of(view))


@router.post("/views/{view_id}/delete", dependencies=[NeedsW(Permission.signed_in)])
def delete_view(
    request: Request,
    view_id: ViewId,
    form: CheckedForm,
    session: WriteSession,
    user: Staff,
    clock: ClockDep,
) -> Response:
    saved.delete_view(session, clock, actor_for(user), user, view_id)
    session.commit()
    flash(request, _("已删除视图"))
    return redirect("/")
