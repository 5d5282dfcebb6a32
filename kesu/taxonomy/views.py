"""Admin pages for the configuration: the 3-level category tree (add, rename, move, disable),
the stages of the loop and the custom fields of the complaint form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.roles import Role
from kesu.accounts.views import AdminR, AdminW
from kesu.complaints.models import Stage
from kesu.errors import InvalidInput, KesuError
from kesu.taxonomy import service
from kesu.taxonomy.models import Category, FormField
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import TIME_LIMIT_MAX, Code, Id, is_plain_int
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


# ---- categories ----------------------------------------------------------------------------


def _categories_page(
    request: Request,
    session: Session,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    categories = service.category_tree(session)
    parents = [c for c in categories if c.level < service.MAX_LEVEL]
    return render(
        request,
        "taxonomy/categories.html",
        {
            "categories": categories,
            "parents": parents,
            "parent_options": _parent_options(parents),
            "values": values or {},
            "error": error,
            "max_level": service.MAX_LEVEL,
        },
        status_code,
    )


def _parent_options(parents: list[Category]) -> Callable[[Category, str | None], Markup]:
    """The ``<option>``s of a category's 上级分类 select: every category that may hold it (not
    itself, nothing below it), ``selected`` the one whose id is ``chosen``.

    Each option is escaped once and the lists are joined in Python: in the template each
    category looped over every parent (89 categories: ~5,000 option renders, 300 ms of a
    page an admin waits for).
    """
    shown = [(c, f'<option value="{c.id}"', f">{escape(c.path)}</option>") for c in parents]

    def options(category: Category, chosen: str | None) -> Markup:
        below = category.path + "/"
        return Markup(
            "".join(
                head + (" selected" if chosen == str(p.id) else "") + tail
                for p, head, tail in shown
                if p.id != category.id and not p.path.startswith(below)
            )
        )

    return options


@router.get("/admin/categories")
def categories_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _categories_page(request, session)


@router.post("/admin/categories")
def create_category(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    values = {k: text(form, k) for k in ("name", "name_en", "parent_id", "default_severity")}
    try:
        parent = values["parent_id"]
        if parent and not is_plain_int(parent):
            raise InvalidInput(_("上级分类无效"), field="parent_id")
        severity = values["default_severity"]
        category = service.create_category(
            session,
            clock,
            actor_for(user),
            name=values["name"],
            parent_id=int(parent) if parent else None,
            name_en=values["name_en"],
            default_severity=severity or None,
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _categories_page(request, session, exc.status_code, exc, values)
    flash(request, _("已添加分类 %(path)s") % {"path": category.path})
    return redirect("/admin/categories")


@router.post("/admin/categories/{category_id}/deactivate")
def deactivate_category(
    request: Request,
    category_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    service.deactivate_category(session, clock, actor_for(user), category_id)
    session.commit()
    flash(request, _("已停用该分类及其下级分类"))
    return redirect("/admin/categories")


# ---- stages --------------------------------------------------------------------------------


def _stages_page(
    request: Request,
    session: Session,
    status_code: int = 200,
    error: KesuError | None = None,
    failed: str | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    stages = list(session.scalars(select(Stage).order_by(Stage.position)))
    return render(
        request,
        "taxonomy/stages.html",
        {
            "stages": stages,
            "error": error,
            "failed": failed,
            "values": values or {},
            "outputs_text": outputs_text,
        },
        status_code,
    )


def outputs_text(outputs: list[dict[str, str]]) -> str:
    """Required outputs as editable lines: ``code | 中文标签 | English label``."""
    return "\n".join(
        " | ".join(x for x in (o["code"], o.get("label", ""), o.get("label_en", "")) if x)
        for o in outputs
    )


def parse_outputs(value: str) -> list[dict[str, str]]:
    specs = []
    for line in value.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        specs.append(
            {
                "code": parts[0],
                "label": parts[1] if len(parts) > 1 else parts[0],
                "label_en": parts[2] if len(parts) > 2 else "",
            }
        )
    return specs


def _stage_changes(stage: Stage, form: Any) -> dict[str, Any]:
    limit = text(form, "time_limit_minutes")
    if limit and not (is_plain_int(limit, 6) and 0 < int(limit) <= TIME_LIMIT_MAX):
        raise InvalidInput(_("时限必须是正整数分钟"), field="time_limit_minutes")
    wanted: dict[str, Any] = {
        "name": text(form, "name"),
        "name_en": text(form, "name_en"),
        "public_name": text(form, "public_name"),
        "time_limit_minutes": int(limit) if limit else None,
        "allowed_roles": [r for r in form.getlist("allowed_roles") if r in Role.__members__],
        "required_outputs": parse_outputs(text(form, "required_outputs")),
        "back_to": [str(c) for c in form.getlist("back_to")],
    }
    if not wanted["name"]:
        raise InvalidInput(_("阶段名称不能为空"), field="name")
    # Only what changed goes to the service, so the audit log shows the real edit.
    return {k: v for k, v in wanted.items() if getattr(stage, k) != v}


@router.get("/admin/stages")
def stages_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _stages_page(request, session)


@router.post("/admin/stages/{code}")
def update_stage(
    request: Request,
    code: Code,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    stage = service.get_stage(session, code)
    try:
        changes = _stage_changes(stage, form)
        if changes:
            service.update_stage(session, clock, actor_for(user), code, changes)
        session.commit()
    except KesuError as exc:
        session.rollback()
        values: dict[str, Any] = {
            k: text(form, k)
            for k in ("name", "name_en", "public_name", "time_limit_minutes", "required_outputs")
        }
        values["allowed_roles"] = form.getlist("allowed_roles")
        values["back_to"] = form.getlist("back_to")
        return _stages_page(request, session, exc.status_code, exc, code, values)
    flash(request, _("已保存阶段「%(name)s」") % {"name": stage.name})
    return redirect(f"/admin/stages#stage-{code}")


# ---- category rename and move --------------------------------------------------------------


@router.post("/admin/categories/{category_id}")
def update_category(
    request: Request,
    category_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    values = {k: text(form, k) for k in ("name", "name_en", "parent_id")}
    values["category_id"] = str(category_id)
    try:
        parent = values["parent_id"]
        if parent and not (parent.isascii() and parent.isdigit() and len(parent) < 10):
            raise InvalidInput(_("上级分类无效"), field="parent_id")
        old_path = service.get_category(session, category_id).path
        category = service.update_category(
            session,
            clock,
            actor_for(user),
            category_id,
            name=values["name"],
            name_en=values["name_en"],
            parent_id=int(parent) if parent else None,
        )
        path = category.path
        stale = service.path_references(session, old_path) if path != old_path else []
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _categories_page(request, session, exc.status_code, exc, values)
    flash(request, _("已保存分类 %(path)s") % {"path": path})
    if stale:
        message = _("以下配置仍使用旧路径「%(old)s」，请改为「%(new)s」：%(list)s")
        flash(request, message % {"old": old_path, "new": path, "list": "、".join(stale)}, "warn")
    return redirect(f"/admin/categories#cat-{category_id}")


# ---- custom form fields --------------------------------------------------------------------

FIELD_TEXT = ("code", "label", "label_en", "field_type", "options", "sort")


def _field_values(field: FormField | None) -> dict[str, str]:
    if field is None:
        return {"field_type": "text", "sort": "100", "public": "1", "is_active": "1"}
    return {
        "code": field.code,
        "label": field.label,
        "label_en": field.label_en,
        "field_type": field.field_type,
        "options": "\n".join(field.options),
        "sort": str(field.sort),
        "required": "1" if field.required else "",
        "public": "1" if field.public else "",
        "is_active": "1" if field.is_active else "",
    }


def _field_changes(form: FormData) -> dict[str, Any]:
    sort = text(form, "sort") or "0"
    if not (sort.isascii() and sort.isdigit() and len(sort) < 8):
        raise InvalidInput(_("顺序必须是 0–1000000 的整数"), field="sort")
    return {
        "label": text(form, "label"),
        "label_en": text(form, "label_en"),
        "field_type": text(form, "field_type"),
        "options": [line.strip() for line in str(form.get("options") or "").splitlines()],
        "sort": int(sort),
        "required": form.get("required") == "1",
        "public": form.get("public") == "1",
        "is_active": form.get("is_active") == "1",
    }


def _submitted(form: FormData) -> dict[str, str]:
    values = {k: text(form, k) for k in FIELD_TEXT}
    values["options"] = str(form.get("options") or "")
    for key in ("required", "public", "is_active"):
        values[key] = "1" if form.get(key) == "1" else ""
    return values


def _fields_page(
    request: Request,
    session: Session,
    field: FormField | None = None,
    values: dict[str, str] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    rows = list(session.scalars(select(FormField).order_by(FormField.sort, FormField.id)))
    return render(
        request,
        "taxonomy/form_field.html" if field else "taxonomy/form_fields.html",
        {
            "fields": rows,
            "field": field,
            "values": values if values is not None else _field_values(field),
            "error": error,
            "types": service.FIELD_TYPES,
        },
        status_code,
    )


@router.get("/admin/form-fields")
def form_fields_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _fields_page(request, session)


@router.post("/admin/form-fields")
def create_form_field(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    try:
        field = service.create_form_field(
            session, clock, actor_for(user), text(form, "code"), _field_changes(form)
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _fields_page(request, session, None, _submitted(form), exc, exc.status_code)
    flash(request, _("已添加表单字段「%(label)s」") % {"label": field.label})
    return redirect("/admin/form-fields")


@router.get("/admin/form-fields/{field_id}")
def form_field_page(
    request: Request, field_id: RowId, session: ReadSession, user: AdminR
) -> Response:
    return _fields_page(request, session, service.get_form_field(session, field_id))


@router.post("/admin/form-fields/{field_id}")
def update_form_field(
    request: Request,
    field_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    field = service.get_form_field(session, field_id)
    try:
        service.update_form_field(session, clock, actor_for(user), field, _field_changes(form))
        label = field.label
        session.commit()
    except KesuError as exc:
        session.rollback()
        field = service.get_form_field(session, field_id)
        values = {**_submitted(form), "code": field.code}
        return _fields_page(request, session, field, values, exc, exc.status_code)
    flash(request, _("已保存表单字段「%(label)s」") % {"label": label})
    return redirect("/admin/form-fields")


@router.post("/admin/form-fields/{field_id}/active")
def toggle_form_field(
    request: Request,
    field_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    field = service.get_form_field(session, field_id)
    active = text(form, "active") == "1"
    service.update_form_field(session, clock, actor_for(user), field, {"is_active": active})
    label = field.label
    session.commit()
    message = _("已启用表单字段「%(label)s」") if active else _("已停用表单字段「%(label)s」")
    flash(request, message % {"label": label})
    return redirect("/admin/form-fields")
