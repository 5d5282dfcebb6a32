"""The customer page: the record, their complaints (each with what it said), and for staff
with the permission the edit, merge and anonymise forms. Thin: parse, call, commit, redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.accounts.permissions import PageNeeds, PageNeedsW, Permission
from kesu.accounts.roles import can
from kesu.complaints.enums import Tier
from kesu.customers import service
from kesu.customers.schemas import EDITABLE, ID_MAX, CustomerUpdate
from kesu.errors import InvalidInput, KesuError
from kesu.privacy import erasure
from kesu.privacy.service import audit_read, sees_contact, shown_text
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=ID_MAX)]
Reader = Annotated[User, PageNeeds(Permission.complaint_read)]
Editor = Annotated[User, PageNeedsW(Permission.customer_edit)]
Eraser = Annotated[User, PageNeedsW(Permission.customer_anonymize)]


def _page(
    request: Request,
    session: Session,
    user: User,
    customer_id: int,
    form: str = "",
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    customer = service.get_customer_for_user(session, user, customer_id)
    masked = not sees_contact(user)
    context: dict[str, Any] = {
        "customer": service.customer_out(session, user, customer, masked),
        "tiers": list(Tier),
        "may_edit": can(user.role, Permission.customer_edit) and not customer.anonymized_at,
        "may_erase": can(user.role, Permission.customer_anonymize) and not customer.anonymized_at,
        "safe_text": lambda value: shown_text(value, masked),
        "form": form,
        "error": error,
        "values": values or {},
    }
    return render(request, "customers/detail.html", context, error.status_code if error else 200)


@router.get("/customers/{customer_id}")
def customer_page(
    request: Request,
    customer_id: Id,
    session: ReadSession,
    db: DatabaseDep,
    user: Reader,
    clock: ClockDep,
) -> Response:
    if sees_contact(user):
        service.get_customer_for_user(session, user, customer_id)  # 404 before the audit
        audit_read(db, clock, user, "customer", str(customer_id), {})
    return _page(request, session, user, customer_id)


def _act(
    request: Request,
    session: Session,
    user: User,
    customer_id: int,
    form: CheckedForm,
    name: str,
    change: Callable[[], str],
    then: Callable[[], str] | None = None,
) -> Response:
    """Runs ``change`` and commits, then redirects; on a domain error the page again (4xx)
    with the error above form ``name`` and what was typed."""
    try:
        done = change()
        session.commit()
    except KesuError as exc:
        session.rollback()
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return _page(request, session, user, customer_id, name, exc, values)
    flash(request, done)
    return redirect(then() if then else f"/customers/{customer_id}")


def _update_from(form: CheckedForm) -> CustomerUpdate:
    raw: dict[str, Any] = {f: text(form, f) or None for f in EDITABLE}
    raw["name"] = text(form, "name")
    raw["reason"] = text(form, "reason") or None
    try:
        return CustomerUpdate.model_validate(raw)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][-1])
        message = _("请检查这一项：%(field)s") % {"field": _field_label(field)}
        raise InvalidInput(message, field=field) from None


def _field_label(field: str) -> str:
    labels = {"name": _("姓名"), "phone": _("电话"), "email": _("邮箱"), "tier": _("客户等级")}
    labels |= {"region": _("地区"), "external_id": _("外部编号"), "reason": _("原因")}
    return labels.get(field, field)


@router.post("/customers/{customer_id}/edit")
def edit(
    request: Request,
    customer_id: Id,
    form: CheckedForm,
    session: WriteSession,
    user: Editor,
    clock: ClockDep,
) -> Response:
    def change() -> str:
        customer = service.get_customer_for_user(session, user, customer_id)
        changed = service.update_customer(
            session, clock, actor_for(user), customer, _update_from(form)
        )
        return _("已保存客户资料") if changed else _("没有改动")

    return _act(request, session, user, customer_id, form, "edit", change)


@router.post("/customers/{customer_id}/merge")
def merge(
    request: Request,
    customer_id: Id,
    form: CheckedForm,
    session: WriteSession,
    user: Editor,
    clock: ClockDep,
) -> Response:
    into: list[int] = []

    def change() -> str:
        value = text(form, "into")
        if not (
            value.isascii() and value.isdigit() and 0 < len(value) <= 10 and int(value) <= ID_MAX
        ):
            raise InvalidInput(_("请填写要保留的客户编号"), field="into")
        duplicate = service.get_customer_for_user(session, user, customer_id)
        keep = service.get_customer_for_user(session, user, int(value))
        reason = text(form, "reason", 500) or None
        moved = service.merge_customers(session, clock, actor_for(user), duplicate, keep, reason)
        into.append(keep.id)
        return _("已合并到客户 %(id)s，转移了 %(n)s 条投诉") % {"id": keep.id, "n": moved}

    return _act(
        request, session, user, customer_id, form, "merge", change, lambda: f"/customers/{into[0]}"
    )


@router.post("/customers/{customer_id}/anonymize")
def anonymize(
    request: Request,
    customer_id: Id,
    form: CheckedForm,
    session: WriteSession,
    user: Eraser,
    clock: ClockDep,
) -> Response:
    def change() -> str:
        if text(form, "confirm") != "yes":
            raise InvalidInput(_("请勾选确认：匿名化后无法恢复"), field="confirm")
        reason = text(form, "reason", 500)
        if not reason:
            raise InvalidInput(_("请填写原因（例如客户的删除申请编号）"), field="reason")
        customer = service.get_customer_for_user(session, user, customer_id)
        count = erasure.anonymize_customer(session, clock, actor_for(user), customer, reason)
        return _("已删除该客户的个人信息，%(n)s 条投诉的统计数据保留") % {"n": count}

    return _act(request, session, user, customer_id, form, "anonymize", change)
