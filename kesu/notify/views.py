"""Pages: the bell (everyone's notifications) and failed deliveries (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from kesu.accounts.views import AdminR, AdminW, PageUserR, PageUserW
from kesu.errors import KesuError
from kesu.notify import admin
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Before = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
STATUSES = ("failed", "pending", "sending", "delivered")


def N_(message: str) -> str:
    return message


STATUS_LABELS = {
    "failed": N_("发送失败"),
    "pending": N_("等待发送"),
    "sending": N_("发送中"),
    "delivered": N_("已送达"),
}


def outbox_status(code: str) -> str:
    return _(STATUS_LABELS.get(code, code))


@router.get("/notifications")
def notifications_page(
    request: Request, session: ReadSession, user: PageUserR, before: Before = None
) -> Response:
    inbox = admin.inbox(session, user, 30, before, unread_only=False)
    return render(request, "notify/notifications.html", {"inbox": inbox, "section": "bell"})


@router.post("/notifications/read")
def mark_read(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: PageUserW
) -> Response:
    raw = text(form, "id")
    admin.mark_read(
        session,
        clock,
        user,
        [int(raw)] if raw.isascii() and raw.isdigit() and len(raw) < 10 else None,
    )
    session.commit()
    target = text(form, "next")
    return redirect(target if target.startswith("/complaints/") else "/notifications")


@router.get("/admin/outbox")
def outbox_page(
    request: Request,
    session: ReadSession,
    user: AdminR,
    status: Annotated[str, Query(max_length=16)] = "failed",
    before: Before = None,
) -> Response:
    shown = status if status in STATUSES else "failed"
    page = admin.outbox(session, shown, 50, before)
    return render(
        request,
        "notify/outbox.html",
        {"page": page, "status": shown, "statuses": STATUSES, "outbox_status": outbox_status},
    )


@router.post("/admin/outbox/{row_id}/retry")
def retry(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    try:
        admin.retry(session, clock, actor_for(user), row_id)
        session.commit()
        flash(request, _("已重新排队，稍后发送"))
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return redirect("/admin/outbox")
