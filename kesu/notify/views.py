"""Pages: the bell (everyone's notifications), failed deliveries and the channel endpoints
(admins)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.models import Team
from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.views import AdminR, AdminW, PageUserR, PageUserW
from kesu.errors import InvalidInput, KesuError
from kesu.notify import admin
from kesu.notify.models import NotifyEndpoint
from kesu.notify.service import ENDPOINT_KINDS
from kesu.notify.texts import events as template_events
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


@router.get("/notifications", dependencies=[PageNeeds(Permission.signed_in)])
def notifications_page(
    request: Request, session: ReadSession, user: PageUserR, before: Before = None
) -> Response:
    inbox = admin.inbox(session, user, 30, before, unread_only=False)
    return render(request, "notify/notifications.html", {"inbox": inbox, "section": "bell"})


@router.post("/notifications/read", dependencies=[PageNeedsW(Permission.signed_in)])
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


# ---- channel endpoints (robots, webhooks, SMS gateway) ----------------------------------------

KIND_LABELS = {
    "dingtalk": N_("钉钉机器人"),
    "feishu": N_("飞书机器人"),
    "wecom": N_("企业微信机器人"),
    "webhook": N_("Webhook"),
    "sms": N_("短信网关"),
}
CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def kind_label(kind: str) -> str:
    return _(KIND_LABELS.get(kind, kind))


def endpoint_fields(form: FormData, creating: bool) -> dict[str, Any]:
    """The service's fields from the submitted form; bad input names its field."""
    fields: dict[str, Any] = {
        "name": text(form, "name"),
        "kind": text(form, "kind"),
        "events": [str(e)[:64] for e in form.getlist("events")][:50],
        "teams": [str(t)[:64] for t in form.getlist("teams")][:100],
        "locale": "en" if text(form, "locale") == "en" else "zh_CN",
        "is_active": form.get("is_active") == "1",
    }
    if creating:
        code = text(form, "code")
        if not code or len(code) > 64 or not set(code) <= CODE_CHARS:
            raise InvalidInput(
                _("代码只能包含小写字母、数字、_ 和 -（最多 64 个字符）"), field="code"
            )
        fields["code"] = code
    if not fields["name"] or len(fields["name"]) > 128:
        raise InvalidInput(_("请填写名称（最多 128 个字符）"), field="name")
    raw = str(form.get("config") or "").strip() or "{}"
    try:
        config = json.loads(raw)
    except ValueError:
        raise InvalidInput(_("配置不是有效的 JSON"), field="config") from None
    if not isinstance(config, dict):
        raise InvalidInput(_("配置必须是 JSON 对象"), field="config")
    fields["config"] = config
    return fields


def endpoint_values(row: NotifyEndpoint | None) -> dict[str, Any]:
    if row is None:
        return {"kind": "dingtalk", "locale": "zh_CN", "is_active": "1", "config": "{}"}
    shown = admin.endpoint_out(row)
    return {
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "locale": row.locale,
        "is_active": "1" if row.is_active else "",
        "events": list(row.events),
        "teams": list(row.teams),
        "config": json.dumps(shown["config"], ensure_ascii=False, indent=2),
    }


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k) for k in ("code", "name", "kind", "locale")}
    values["is_active"] = "1" if form.get("is_active") == "1" else ""
    values["events"] = [str(e) for e in form.getlist("events")]
    values["teams"] = [str(t) for t in form.getlist("teams")]
    values["config"] = str(form.get("config") or "")
    return values


def _endpoints_page(
    request: Request,
    session: Session,
    row: NotifyEndpoint | None = None,
    values: dict[str, Any] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    rows = list(session.scalars(select(NotifyEndpoint).order_by(NotifyEndpoint.code)))
    return render(
        request,
        "notify/endpoints.html" if row is None else "notify/endpoint.html",
        {
            "rows": [admin.endpoint_out(r) for r in rows],
            "row": row,
            "values": values if values is not None else endpoint_values(row),
            "error": error,
            "kinds": ENDPOINT_KINDS,
            "kind_label": kind_label,
            "events": template_events(),
            "teams": list(session.scalars(select(Team).where(Team.is_active).order_by(Team.id))),
        },
        status_code,
    )


@router.get("/admin/endpoints")
def endpoints_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _endpoints_page(request, session)


@router.post("/admin/endpoints")
def create_endpoint(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    try:
        row = admin.save_endpoint(
            session, clock, actor_for(user), endpoint_fields(form, creating=True), None
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _endpoints_page(request, session, None, _form_values(form), exc, exc.status_code)
    flash(request, _("已添加通知渠道「%(name)s」") % {"name": row.name})
    return redirect(f"/admin/endpoints/{row.id}")


@router.get("/admin/endpoints/{row_id}")
def endpoint_page(request: Request, row_id: RowId, session: ReadSession, user: AdminR) -> Response:
    return _endpoints_page(request, session, admin.get_endpoint(session, row_id))


@router.post("/admin/endpoints/{row_id}")
def update_endpoint(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    row = admin.get_endpoint(session, row_id)
    try:
        fields = endpoint_fields(form, creating=False)
        fields.pop("kind")  # the kind of an endpoint does not change
        admin.save_endpoint(session, clock, actor_for(user), fields, row)
        session.commit()
    except KesuError as exc:
        session.rollback()
        row = admin.get_endpoint(session, row_id)
        values = {**_form_values(form), "code": row.code, "kind": row.kind}
        return _endpoints_page(request, session, row, values, exc, exc.status_code)
    flash(request, _("已保存通知渠道「%(name)s」") % {"name": row.name})
    return redirect(f"/admin/endpoints/{row.id}")


@router.post("/admin/endpoints/{row_id}/active")
def toggle_endpoint(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    row = admin.get_endpoint(session, row_id)
    active = text(form, "active") == "1"
    try:
        admin.save_endpoint(session, clock, actor_for(user), {"is_active": active}, row)
        session.commit()
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect("/admin/endpoints")
    message = _("已启用通知渠道「%(name)s」") if active else _("已停用通知渠道「%(name)s」")
    flash(request, message % {"name": row.name})
    return redirect("/admin/endpoints")


@router.post("/admin/endpoints/{row_id}/delete")
def delete_endpoint(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    row = admin.get_endpoint(session, row_id)
    name = row.name
    admin.delete_endpoint(session, clock, actor_for(user), row)
    session.commit()
    flash(request, _("已删除通知渠道「%(name)s」") % {"name": name})
    return redirect("/admin/endpoints")


@router.post("/admin/endpoints/{row_id}/test")
def test_endpoint(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    row = admin.get_endpoint(session, row_id)
    try:
        admin.send_test(session, clock, actor_for(user), row, text(form, "phone", 32))
        session.commit()
    except KesuError as exc:
        session.rollback()
        row = admin.get_endpoint(session, row_id)
        return _endpoints_page(request, session, row, None, exc, exc.status_code)
    flash(request, _("测试消息已排队，后台任务会在几秒内发送；结果见「通知发送」。"))
    return redirect(f"/admin/endpoints/{row_id}")
