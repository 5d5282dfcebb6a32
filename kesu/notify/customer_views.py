"""Customer messages: the admins' template editor (page and API) and the customer's opt-out
on the tracking page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.permissions import PUBLIC, Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.service import Actor
from kesu.accounts.views import AdminR, AdminW
from kesu.complaints.access import require
from kesu.complaints.models import Complaint
from kesu.errors import InvalidInput, KesuError, NotFound
from kesu.notify import customer, customer_texts
from kesu.notify.customer_texts import Template
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import Code, Token
from kesu.web.ratelimit import rate_limit
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)])
API = "/api/v1/notify/customer-templates"


def N_(message: str) -> str:
    return message


EVENT_LABELS = {
    "ack": N_("受理确认"),
    "message": N_("客服回复"),
    "confirm": N_("方案待确认"),
    "result": N_("处理结果"),
    "reopen": N_("重新处理"),
    "survey": N_("满意度评价"),  # kesu.surveys
}


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="email subject")
    body: str = Field(min_length=1, max_length=10000, description="email body")
    sms: str = Field(min_length=1, max_length=1000, description="text message")


def template_out(t: Template) -> dict[str, Any]:
    return {
        "event": t.event,
        "locale": t.locale,
        "title": t.title,
        "body": t.body,
        "sms": t.sms,
        "custom": t.custom,
        "variables": list(customer_texts.VARIABLES[t.event]),
    }


def preview(event: str, locale: str, parts: dict[str, str]) -> dict[str, str]:
    """The message as a customer would get it, with sample values (checks placeholders)."""
    customer_texts.check_key(event, locale)
    clean = customer_texts.validate(event, parts)
    template = Template(event, locale, clean["title"], clean["body"], clean["sms"])
    subject, body, sms = customer_texts.render(
        template, customer_texts.sample_values(event, locale)
    )
    return {"subject": subject, "body": body, "sms": sms}


# ---- API (admins) ----------------------------------------------------------------------------


@router.get(API, tags=["notifications"], dependencies=[Needs(Permission.admin)])
def list_templates(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    """Every customer message per event and language, with its placeholders."""
    require(user, Permission.admin)
    return [template_out(t) for t in customer_texts.all_templates(session)]


@router.put(
    API + "/{event}/{locale}", tags=["notifications"], dependencies=[NeedsW(Permission.admin)]
)
def put_template(
    event: Code, locale: Code, body: TemplateIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Replaces a customer message; an unknown placeholder is a 422 naming it."""
    with db.session() as session:
        require(user, Permission.admin)
        saved = customer_texts.save(
            session, clock, actor_for(user), event, locale, body.model_dump()
        )
        session.commit()
        return template_out(saved)


@router.delete(
    API + "/{event}/{locale}", tags=["notifications"], dependencies=[NeedsW(Permission.admin)]
)
def reset_template(
    event: Code, locale: Code, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Back to kesu's default text."""
    with db.session() as session:
        require(user, Permission.admin)
        restored = customer_texts.reset(session, clock, actor_for(user), event, locale)
        session.commit()
        return template_out(restored)


@router.post(
    API + "/{event}/{locale}/preview",
    tags=["notifications"],
    dependencies=[Needs(Permission.admin)],
)
def preview_template(event: Code, locale: Code, body: TemplateIn, user: UserR) -> dict[str, str]:
    """The message filled with sample values; nothing is saved."""
    require(user, Permission.admin)
    return preview(event, locale, body.model_dump())


# ---- the admin page --------------------------------------------------------------------------


def _page(
    request: Request,
    session: Session,
    error: KesuError | None = None,
    editing: tuple[str, str] | None = None,
    values: dict[str, str] | None = None,
    shown: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "notify/customer_templates.html",
        {
            "templates": customer_texts.all_templates(session),
            "labels": {k: _(v) for k, v in EVENT_LABELS.items()},
            "variables": customer_texts.VARIABLES,
            "error": error,
            "editing": editing,
            "values": values or {},
            "shown": shown,
        },
        status_code,
    )


@router.get("/admin/customer-templates", include_in_schema=False)
def templates_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _page(request, session)


@router.post("/admin/customer-templates/{event}/{locale}", include_in_schema=False)
def save_page(
    request: Request,
    event: Code,
    locale: Code,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    """Saves (``action=save``), previews (``preview``) or resets (``reset``) one template."""
    action = text(form, "action") or "save"
    parts = {p: text(form, p, customer_texts.MAX_LENGTH[p] + 1) for p in customer_texts.PARTS}
    try:
        customer_texts.check_key(event, locale)
        if action == "preview":
            shown = preview(event, locale, parts)
            return _page(request, session, None, (event, locale), parts, shown)
        if action == "reset":
            customer_texts.reset(session, clock, actor_for(user), event, locale)
        elif action == "save":
            customer_texts.save(session, clock, actor_for(user), event, locale, parts)
        else:
            raise InvalidInput(_("未知的操作"), field="action")
        session.commit()
    except KesuError as exc:
        session.rollback()
        if isinstance(exc, NotFound):
            raise
        return _page(request, session, exc, (event, locale), parts, None, exc.status_code)
    flash(request, _("模板已保存") if action == "save" else _("已恢复默认模板"))
    return redirect(f"/admin/customer-templates#t-{event}-{locale}")


# ---- the customer's opt-out (tracking page) ---------------------------------------------------


@router.post(
    "/t/{token}/notifications",
    include_in_schema=False,
    dependencies=[PUBLIC, rate_limit("public")],
)
def opt_out(
    request: Request, token: Token, form: CheckedForm, session: WriteSession, clock: ClockDep
) -> Response:
    """The customer stops (``opt_out=1``) or resumes (``0``) messages but acknowledgements."""
    complaint = (
        session.scalar(select(Complaint).where(Complaint.tracking_token == token))
        if len(token) <= 64
        else None
    )
    if complaint is None:
        raise NotFound(_("没有找到这条投诉，请检查链接是否完整。"), field="token")
    wanted = text(form, "opt_out") != "0"
    actor = Actor("customer", None, complaint.customer.name)
    customer.set_opt_out(session, clock, actor, complaint.customer, wanted)
    session.commit()
    flash(
        request,
        _("已退订进度通知，之后只会收到受理确认") if wanted else _("已恢复接收进度通知"),
    )
    return redirect(f"/t/{token}#notify")
