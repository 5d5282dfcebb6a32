"""Pages (admins): the IMAP mailboxes — list, add, edit, enable/disable — and what came in,
with the review queue's raw messages for download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.models import Team
from kesu.accounts.views import AdminR, AdminW
from kesu.complaints.models import Complaint
from kesu.errors import InvalidInput, KesuError, NotFound
from kesu.intake.email import intake, mailboxes
from kesu.intake.email.models import InboundMessage, Mailbox
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, SettingsDep, WriteSession, actor_for
from kesu.web.i18n import N_, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Before = Annotated[int | None, Query(ge=1, le=2**31 - 1)]

STATUS_LABELS = {
    "complaint": N_("新投诉"),
    "reply": N_("客户回复"),
    "ignored": N_("已忽略"),
    "duplicate": N_("重复邮件"),
    "review": N_("待人工查看"),
}
REASON_LABELS = {
    "auto_reply": N_("自动回复"),
    "bounce": N_("退信"),
    "list": N_("邮件列表"),
    "bulk": N_("群发邮件"),
    "own_address": N_("本系统发出的邮件"),
    "message_id": N_("同一封邮件已收过"),
    "reply from another address": N_("回复来自其他地址"),
    "too large": N_("邮件过大"),
    "no sender address": N_("没有发件人地址"),
}
TLS_LABELS: dict[str, str] = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "none": N_("不加密")}


def tls_label(code: str) -> str:
    return _(TLS_LABELS.get(code, code))


def status_label(code: str) -> str:
    return _(STATUS_LABELS.get(code, code))


def reason_label(code: str) -> str:
    return _(REASON_LABELS[code]) if code in REASON_LABELS else code


def _int(form: FormData, name: str) -> int | None:
    value = text(form, name)
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 10):
        raise InvalidInput(_("请填写数字"), field=name)
    return int(value)


def mailbox_fields(form: FormData, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": text(form, "name", 200),
        "host": text(form, "host", 300),
        "port": _int(form, "port"),
        "tls": text(form, "tls", 16) or None,
        "username": text(form, "username", 300),
        "password_env": text(form, "password_env", 200),
        "folder": text(form, "folder", 300),
        "poll_seconds": _int(form, "poll_seconds"),
        "category": text(form, "category", 300),
        "team": text(form, "team", 64),
        "own_addresses": [
            a for a in text(form, "own_addresses", 5000).replace(",", "\n").split() if a
        ],
        "is_active": form.get("is_active") == "1",
    }
    password = form.get("password")
    if isinstance(password, str) and password:
        fields["password"] = password[:2000]
    if creating:
        fields["code"] = text(form, "code", 100)
    if not fields["name"]:
        raise InvalidInput(_("请填写名称（最多 128 个字符）"), field="name")
    return fields


def _values(row: Mailbox | None, session: Session) -> dict[str, Any]:
    if row is None:
        return {"port": 993, "tls": "ssl", "folder": "INBOX", "poll_seconds": 60, "is_active": "1"}
    team = session.get(Team, row.team_id) if row.team_id else None
    return {
        "code": row.code,
        "name": row.name,
        "host": row.host,
        "port": row.port,
        "tls": row.tls,
        "username": row.username,
        "password_env": row.password_env,
        "folder": row.folder,
        "poll_seconds": row.poll_seconds,
        "category": row.category,
        "team": team.code if team else "",
        "own_addresses": "\n".join(row.own_addresses or []),
        "is_active": "1" if row.is_active else "",
    }


def _form_values(form: FormData) -> dict[str, Any]:
    keys = ("code", "name", "host", "port", "tls", "username", "password_env", "folder")
    values: dict[str, Any] = {k: text(form, k, 300) for k in keys}
    for key in ("poll_seconds", "category", "team", "own_addresses"):
        values[key] = text(form, key, 5000)
    values["is_active"] = "1" if form.get("is_active") == "1" else ""
    return values


def _page(
    request: Request,
    session: Session,
    row: Mailbox | None = None,
    values: dict[str, Any] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
    before: int | None = None,
) -> Response:
    rows = list(session.scalars(select(Mailbox).order_by(Mailbox.code)))
    stmt = select(InboundMessage)
    if row is not None:
        stmt = stmt.where(InboundMessage.mailbox_id == row.id)
    if before is not None:
        stmt = stmt.where(InboundMessage.id < before)
    messages = list(session.scalars(stmt.order_by(InboundMessage.id.desc()).limit(51)))
    more = len(messages) > 50
    messages = messages[:50]
    ids = {m.complaint_id for m in messages if m.complaint_id}
    numbers = (
        dict(
            session.execute(select(Complaint.id, Complaint.number).where(Complaint.id.in_(ids)))
            .tuples()
            .all()
        )
        if ids
        else {}
    )
    return render(
        request,
        "intake/email_mailbox.html" if row is not None else "intake/email_mailboxes.html",
        {
            "rows": rows,
            "row": row,
            "values": values if values is not None else _values(row, session),
            "error": error,
            "messages": messages,
            "numbers": numbers,
            "next_before": messages[-1].id if more and messages else None,
            "tls_modes": mailboxes.TLS_MODES,
            "tls_label": tls_label,
            "status_label": status_label,
            "reason_label": reason_label,
            "teams": list(session.scalars(select(Team).where(Team.is_active).order_by(Team.id))),
            "section": "admin",
        },
        status_code,
    )


@router.get("/admin/mailboxes")
def mailboxes_page(
    request: Request, session: ReadSession, user: AdminR, before: Before = None
) -> Response:
    return _page(request, session, before=before)


@router.post("/admin/mailboxes")
def create_mailbox(
    request: Request,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
    user: AdminW,
) -> Response:
    try:
        row = mailboxes.save_mailbox(
            session, clock, settings, actor_for(user), mailbox_fields(form, creating=True), None
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _page(request, session, None, _form_values(form), exc, exc.status_code)
    flash(request, _("已添加邮箱「%(name)s」") % {"name": row.name})
    return redirect(f"/admin/mailboxes/{row.id}")


@router.get("/admin/mailboxes/{row_id}")
def mailbox_page(
    request: Request, row_id: RowId, session: ReadSession, user: AdminR, before: Before = None
) -> Response:
    return _page(request, session, mailboxes.get_mailbox(session, row_id), before=before)


@router.post("/admin/mailboxes/{row_id}")
def update_mailbox(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
    user: AdminW,
) -> Response:
    row = mailboxes.get_mailbox(session, row_id)
    try:
        fields = mailbox_fields(form, creating=False)
        mailboxes.save_mailbox(session, clock, settings, actor_for(user), fields, row)
        session.commit()
    except KesuError as exc:
        session.rollback()
        row = mailboxes.get_mailbox(session, row_id)
        values = {**_form_values(form), "code": row.code}
        return _page(request, session, row, values, exc, exc.status_code)
    flash(request, _("已保存邮箱「%(name)s」") % {"name": row.name})
    return redirect(f"/admin/mailboxes/{row.id}")


@router.post("/admin/mailboxes/{row_id}/active")
def toggle_mailbox(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
    user: AdminW,
) -> Response:
    row = mailboxes.get_mailbox(session, row_id)
    active = text(form, "active") == "1"
    try:
        fields = {"is_active": active, "resume": active}
        mailboxes.save_mailbox(session, clock, settings, actor_for(user), fields, row)
        session.commit()
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect("/admin/mailboxes")
    message = _("已启用邮箱「%(name)s」") if active else _("已停用邮箱「%(name)s」")
    flash(request, message % {"name": row.name})
    return redirect("/admin/mailboxes")


@router.post("/admin/mailboxes/messages/{row_id}/register")
def register_message(
    request: Request,
    row_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    """Registers a mail kept for review as a complaint."""
    try:
        number = intake.register_review(session, clock, actor_for(user), row_id)
        session.commit()
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect("/admin/mailboxes")
    flash(request, _("已登记为投诉 %(number)s") % {"number": number})
    return redirect("/admin/mailboxes")


@router.get("/admin/mailboxes/messages/{row_id}/raw")
def raw_message(row_id: RowId, session: ReadSession, user: AdminR) -> Response:
    """The raw message kept for review, as an .eml download (never rendered)."""
    row = session.get(InboundMessage, row_id)
    if row is None or row.raw is None:
        raise NotFound(_("没有保存这封邮件的原文"), field="id")
    return Response(
        row.raw,
        media_type="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="message-{row.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )
