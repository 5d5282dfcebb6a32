"""Intake pages: the public complaint form, the customer's tracking page, and the agent's
fast-entry form for complaints taken by phone, at the desk or by email.

The public pages need no account: a customer reaches their complaint only through its
unguessable tracking token, and sees only public events, never internal notes or staff names.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.permissions import PUBLIC, PageNeeds
from kesu.accounts.roles import Permission
from kesu.accounts.service import Actor
from kesu.accounts.views import PageUserR
from kesu.attachments import pages as attachment_pages
from kesu.clock import Clock
from kesu.compensation import views as compensation_pages
from kesu.complaints import group_commit, lifecycle, registration, service
from kesu.complaints.access import get_complaint_for_user
from kesu.complaints.enums import Channel, StageCategory
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.complaints.queries import timeline_of
from kesu.complaints.schemas import ComplaintCreate
from kesu.config import Settings
from kesu.errors import InvalidInput, KesuError, NotFound
from kesu.intake import challenge
from kesu.search import desk
from kesu.surveys import views as survey_pages
from kesu.taxonomy.service import active_form_fields, active_stages, category_tree
from kesu.web import public_url, ratelimit
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import (
    ClockDep,
    DatabaseDep,
    ReadSession,
    SettingsDep,
    WriteSession,
    actor_for,
)
from kesu.web.i18n import N_, current_locale, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.params import ComplaintRef, Token
from kesu.web.ratelimit import rate_limit
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
STAFF_CHANNELS = (Channel.phone, Channel.desk, Channel.email)
MAX_MESSAGE = 5000
FIELD_LABELS = {
    "name": N_("姓名"),
    "phone": N_("手机号"),
    "email": N_("邮箱"),
    "region": N_("地区"),
    "tier": N_("客户等级"),
    "content": N_("投诉内容"),
    "order_no": N_("订单号"),
    "product": N_("产品"),
    "order_value": N_("订单金额"),
    "remedy": N_("诉求"),
    "title": N_("标题"),
    "channel": N_("渠道"),
    "category": N_("分类"),
    "severity": N_("严重程度"),
}
FORM_FIELDS = (
    "name",
    "phone",
    "email",
    "region",
    "tier",
    "order_no",
    "product",
    "order_value",
    "content",
    "remedy",
    "title",
    "category",
    "severity",
    "channel",
    "form_key",
    "files_visibility",
    "call_summary",
)


# ---- turning a submitted form into a ComplaintCreate --------------------------------------


def _problem(exc: ValidationError) -> InvalidInput:
    """The first pydantic error as a message a customer understands, naming the field."""
    error = exc.errors()[0]
    loc = [str(p) for p in error.get("loc", ())]
    name = loc[-1] if loc else "content"
    kind = str(error.get("type", ""))
    if loc == ["customer"]:  # the model check: a phone, an email or an external id
        return InvalidInput(_("请至少填写手机号或邮箱，方便我们联系您"), field="phone")
    if kind in ("missing", "string_too_short"):
        problem = _("不能为空")
    elif kind == "string_too_long":
        problem = _("太长了")
    elif kind in ("enum", "literal_error"):
        problem = _("选项无效")
    else:
        problem = _("格式不正确")
    label = _(FIELD_LABELS[name]) if name in FIELD_LABELS else name
    return InvalidInput(f"{label}：{problem}", field=name)


def complaint_from_form(
    form: FormData, channel: str, custom_codes: list[str], staff: bool
) -> ComplaintCreate:
    def opt(name: str) -> str | None:
        return text(form, name) or None

    customer = {"name": text(form, "name"), "phone": opt("phone"), "email": opt("email")}
    raw: dict[str, Any] = {
        "channel": channel,
        "customer": customer,
        "content": text(form, "content"),
        "order_no": opt("order_no"),
        "product": opt("product"),
        "remedy": opt("remedy"),
        "custom_fields": {c: text(form, f"cf_{c}") for c in custom_codes if text(form, f"cf_{c}")},
    }
    if staff:
        customer.update({"region": opt("region"), "tier": opt("tier") or "standard"})
        raw.update(
            {"title": opt("title"), "category": opt("category"), "severity": opt("severity")}
        )
        raw["order_value"] = opt("order_value")
    try:
        return ComplaintCreate.model_validate(raw)
    except ValidationError as exc:
        raise _problem(exc) from None


def _values(form: FormData) -> dict[str, str]:
    values = {k: text(form, k) for k in FORM_FIELDS}
    values.update({k: v for k, v in form.items() if k.startswith("cf_") and isinstance(v, str)})
    return values


# ---- the public complaint form ----------------------------------------------------------


def _submit_page(
    request: Request,
    session: Session,
    values: dict[str, str] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    values = values or {}
    values["form_key"] = values.get("form_key") or secrets.token_urlsafe(18)
    fields = [f for f in active_form_fields(session) if f.public]
    return render(
        request,
        "intake/submit.html",
        {
            "values": values,
            "error": error,
            "fields": fields,
            "challenge": challenge.widget(request),
        },
        status_code,
    )


@router.get("/submit", dependencies=[PUBLIC])
def submit_page(request: Request, session: ReadSession) -> Response:
    return _submit_page(request, session)


@router.post("/submit", dependencies=[PUBLIC, rate_limit("public")])
def submit(
    request: Request, form: CheckedForm, session: ReadSession, clock: ClockDep, db: DatabaseDep
) -> Response:
    """The public form. Its session only reads (the form fields, the page again after an
    error): the create itself goes to the process's group commit, and a request holding a
    write transaction while it waits for the group writer would deadlock on the write lock."""
    values = _values(form)
    try:
        # First, before the session's first statement: a captcha provider's HTTP call must
        # not run while this request holds the database's write lock.
        _verify_challenge(request, form)
        files, file_error = attachment_pages.try_uploads(form)  # also before the lock
        if file_error:
            raise file_error
        fields = [f.code for f in active_form_fields(session) if f.public]
        data = complaint_from_form(form, Channel.web.value, fields, staff=False)
        data.locale = "en" if current_locale() == "en" else "zh_CN"  # the customer's language
        key = values["form_key"][:255] or None  # one complaint per rendered form
        prepared = registration.prepare(db, data)

        def register(unit: Session) -> str:
            complaint, replayed = registration.create_complaint(
                unit,
                clock,
                Actor("customer", None, data.customer.name),
                data,
                key,
                idempotency_scope="web-form",
                prepared=prepared,
            )
            if not replayed:
                attachment_pages.attach(
                    unit, clock, complaint, files, visibility="public", source="customer"
                )
            return complaint.tracking_token

        # committed with the other pending creates of this process (kesu.complaints.group_commit)
        tracking_token = group_commit.submit(db, register)
    except KesuError as exc:
        session.rollback()
        if exc.code == "idempotency_key_reused":
            values["form_key"] = ""  # that form was sent already; this one gets a new key
        return _submit_page(request, session, values, exc, exc.status_code)
    return redirect(f"/t/{tracking_token}?new=1")


def _verify_challenge(request: Request, form: FormData) -> None:
    limits = ratelimit.limits_of(request)
    address = ratelimit.client_address(request, limits.trusted)
    if not challenge.challenge_of(request).verify(request, form, address):
        raise InvalidInput(_("请完成人机验证后再提交"), field="challenge")


# ---- the tracking page ------------------------------------------------------------------


def _by_token(session: Session, token: str) -> Complaint:
    complaint = (
        session.scalar(select(Complaint).where(Complaint.tracking_token == token))
        if 0 < len(token) <= 64
        else None
    )
    if complaint is None:
        raise NotFound(_("没有找到这条投诉，请检查链接是否完整。"), field="token")
    return complaint


def _track_page(
    request: Request,
    session: Session,
    clock: Clock,
    settings: Settings,
    complaint: Complaint,
    error: KesuError | None = None,
    form_name: str = "",
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    stages = active_stages(session)
    current = next((s for s in stages if s.code == complaint.stage), None)
    waiting = current is not None and current.category == StageCategory.waiting
    return render(
        request,
        "intake/track.html",
        {
            "c": complaint,
            "stage": current,
            "stages": stages,
            "now": clock.now(),
            "events": timeline_of(session, complaint, public_only=True),
            "files": attachment_pages.for_customer(session, complaint),
            "solution": complaint.outputs.get("solution") if waiting else None,
            "waiting": waiting,
            "new": request.query_params.get("new") == "1",
            "tracking_url": public_url.tracking_link(
                public_url.base_url(session), complaint.tracking_token
            ),
            "opted_out": complaint.customer.notify_opt_out_at is not None,
            "survey_form": survey_pages.for_tracking(session, complaint, clock.now()),
            "compensation": compensation_pages.for_tracking(session, complaint),
            "decision": request.query_params.get("decision", "")[:16],
            "error": error,
            "form_name": form_name,
            "values": values or {},
        },
        status_code,
    )


@router.get("/t/{token}", dependencies=[PUBLIC, rate_limit("lookup", "rate_limit_lookup")])
def track(
    request: Request, token: Token, session: ReadSession, clock: ClockDep, settings: SettingsDep
) -> Response:
    return _track_page(request, session, clock, settings, _by_token(session, token))


@router.post("/t/{token}/message", dependencies=[PUBLIC, rate_limit("public")])
def customer_message(
    request: Request,
    token: Token,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    files, file_error = attachment_pages.try_uploads(form)  # before the write lock
    complaint = _by_token(session, token)
    body = text(form, "body")
    try:
        if file_error:
            raise file_error
        if not body and not files:
            raise InvalidInput(_("请填写留言内容"), field="body")
        if len(body) > MAX_MESSAGE:
            raise InvalidInput(_("留言太长（最多 5000 字）"), field="body")
        event = service.add_customer_message(session, clock, complaint, body) if body else None
        attachment_pages.attach(
            session, clock, complaint, files, visibility="public", source="customer", event=event
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _track_page(
            request,
            session,
            clock,
            settings,
            complaint,
            exc,
            "message",
            {"body": body},
            exc.status_code,
        )
    flash(request, _("留言已发送，我们会尽快回复您"))
    return redirect(f"/t/{token}")


@router.post("/t/{token}/respond", dependencies=[PUBLIC, rate_limit("public")])
def customer_respond(
    request: Request,
    token: Token,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    complaint = _by_token(session, token)
    accept = text(form, "decision") == "accept"
    comment = text(form, "comment", MAX_MESSAGE) or None
    try:
        lifecycle.customer_respond(session, clock, complaint, accept, comment)
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _track_page(
            request,
            session,
            clock,
            settings,
            _by_token(session, token),
            exc,
            "respond",
            {"comment": comment or ""},
            exc.status_code,
        )
    flash(
        request,
        _("感谢确认，我们将按方案执行") if accept else _("已收到您的意见，我们会重新制定方案"),
    )
    return redirect(f"/t/{token}")


# ---- the agent's fast-entry form (phone, desk, email) -----------------------------------


def _new_page(
    request: Request,
    session: Session,
    values: dict[str, str] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    values = values or {"channel": Channel.phone.value}
    values["form_key"] = values.get("form_key") or secrets.token_urlsafe(18)
    return render(
        request,
        "intake/new.html",
        {
            "values": values,
            "error": error,
            "fields": active_form_fields(session),
            "channels": STAFF_CHANNELS,
            "categories": category_tree(session),
        },
        status_code,
    )


@router.get("/complaints/new", dependencies=[PageNeeds(Permission.complaint_create)])
def new_page(request: Request, session: ReadSession, user: PageUserR) -> Response:
    return _new_page(request, session)


# PageNeeds, not PageNeedsW: the create goes to the group commit, and this request must hold
# no write transaction meanwhile (``submit``).
@router.post("/complaints/new", dependencies=[PageNeeds(Permission.complaint_create)])
def create(
    request: Request,
    form: CheckedForm,
    session: ReadSession,
    clock: ClockDep,
    user: PageUserR,
    db: DatabaseDep,
) -> Response:
    """The agent's entry form; reads only, the create goes to the group commit (see
    ``submit``)."""
    values = _values(form)
    channel = values["channel"] if values["channel"] in STAFF_CHANNELS else Channel.phone.value
    files, file_error = attachment_pages.try_uploads(form)  # before the write lock
    codes = [f.code for f in active_form_fields(session)]
    try:
        if file_error:
            raise file_error
        summary = desk.check_call_summary(text(form, "call_summary", desk.MAX_SUMMARY + 1))
        data = complaint_from_form(form, channel, codes, staff=True)
        prepared = registration.prepare(db, data)
        visibility: Literal["public", "internal"] = (
            "public" if text(form, "files_visibility") == "public" else "internal"
        )

        def register(unit: Session) -> str:
            complaint, replayed = registration.create_complaint(
                unit,
                clock,
                actor_for(user),
                data,
                values["form_key"][:255] or None,
                idempotency_scope=f"form:{user.id}",
                prepared=prepared,
            )
            if not replayed:
                attachment_pages.attach(
                    unit,
                    clock,
                    complaint,
                    files,
                    visibility=visibility,
                    source="staff",
                    uploaded_by=user,
                )
            if summary and not replayed:
                desk.record_call_summary(unit, clock, actor_for(user), complaint, summary)
            return complaint.number

        # committed with the other pending creates of this process (kesu.complaints.group_commit)
        number = group_commit.submit(db, register)
    except KesuError as exc:
        session.rollback()
        return _new_page(request, session, values, exc, exc.status_code)
    return redirect(f"/complaints/new/done/{number}")


@router.get("/complaints/new/done/{number}", dependencies=[PageNeeds(Permission.complaint_create)])
def created(
    request: Request,
    number: ComplaintRef,
    session: ReadSession,
    user: PageUserR,
    settings: SettingsDep,
) -> Response:
    """The confirmation after the fast-entry form: the number and the customer's tracking
    link, whether or not the author may still open the complaint (rules may have routed it to
    another team). Only the complaint's author sees this page."""
    complaint = session.scalar(
        select(Complaint)
        .join(ComplaintEvent, ComplaintEvent.complaint_id == Complaint.id)
        .where(
            Complaint.number == number[:64].upper(),
            ComplaintEvent.kind == "created",
            ComplaintEvent.actor_id == user.id,
        )
        .limit(1)
    )
    if complaint is None:
        raise NotFound(_("没有这个投诉"), field="number")
    try:
        get_complaint_for_user(session, user, complaint.id)
        visible = True
    except KesuError:
        visible = False
    return render(
        request,
        "intake/created.html",
        {
            "c": complaint,
            "visible": visible,
            "tracking_url": public_url.tracking_link(
                public_url.base_url(session), complaint.tracking_token
            ),
        },
    )
