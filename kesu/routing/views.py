"""Admin pages for routing rules: the ordered list, enable/disable, edit, and the dry run."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from starlette.datastructures import FormData

from kesu.accounts.views import AdminR, AdminW
from kesu.complaints.access import lookup
from kesu.errors import InvalidInput, KesuError, NotFound
from kesu.routing import actions as act
from kesu.routing import editor, engine, rules
from kesu.routing.models import RoutingRule
from kesu.web.csrf import CheckedForm, text
from kesu.web.csrf import version as form_version
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import current_locale, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EXAMPLE_CONDITIONS = {"field": "category", "op": "under", "value": "账务"}


def N_(message: str) -> str:
    """Marks a string for the catalog; translated where it is shown."""
    return message


EVENT_LABELS = {
    "created": N_("新投诉"),
    "updated": N_("投诉被修改"),
    "stage_changed": N_("阶段变更"),
    "assigned": N_("分配"),
    "reopened": N_("重新打开"),
    "customer_message": N_("客户留言"),
    "customer_rejected": N_("客户不接受方案"),
    "timer_fired": N_("时限预警或超时"),
    "survey_answered": N_("满意度回访"),
}


def event_label(code: str) -> str:
    return _(EVENT_LABELS[code]) if code in EVENT_LABELS else code


def action_text(raw: dict[str, Any]) -> str:
    """A stored action in words: the Chinese sentence, or in another language the action's
    type and the parameters that differ from their defaults (labels from the catalog)."""
    try:
        action = act.parse([raw])[0]
    except KesuError:
        return json.dumps(raw, ensure_ascii=False)
    if current_locale() != "en":
        return act.describe(action)
    spec = next(t for t in act.catalog() if t["type"] == action.type)
    values = action.model_dump(mode="json")
    parts = []
    for param in spec["params"]:
        value = values.get(param["name"])
        if value in (None, [], param["default"]) and param["kind"] != "bool":
            continue
        if param["kind"] == "bool":
            if value != param["default"]:
                parts.append(f"{param['label']}: {_('是') if value else _('否')}")
            continue
        shown = {o["value"]: o["label"] for o in param.get("options", [])}
        text_value = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{param['label']} {shown.get(text_value, text_value)}")
    return spec["label"] + (f" ({'; '.join(parts)})" if parts else "")


HELPERS = {"event_label": event_label, "action_text": action_text}
EXAMPLE_ACTIONS = [{"type": "assign", "team": "finance", "strategy": "round_robin"}]


def _all(session: Session) -> list[RoutingRule]:
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))


def _rules_page(
    request: Request,
    session: Session,
    clock: ClockDep,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    complaint_ref = request.query_params.get("complaint", "").strip()[:64]
    event = request.query_params.get("event", "created")
    dry: dict[str, Any] | None = None
    if complaint_ref:
        complaint = lookup(session, complaint_ref)
        if complaint is None:
            dry = {"error": _("没有这个投诉: %(ref)s") % {"ref": complaint_ref}}
        elif event not in engine.TRIGGER_NAMES:
            dry = {"error": _("未知事件")}
        else:
            report = engine.dry_run(session, complaint, event, clock.now())
            dry = {"complaint": complaint, "event": event, "rules": report}
    return render(
        request,
        "routing/rules.html",
        {
            "rules": (found := _all(session)),
            "shadowed": engine.shadowed(found),
            "catalog": editor.catalog(session),
            "events": engine.TRIGGER_NAMES,
            "values": values or _blank(),
            "error": error,
            "dry": dry,
            "dry_ref": complaint_ref,
            "dry_event": event,
            **HELPERS,
        },
        status_code,
    )


def _blank() -> dict[str, Any]:
    return {
        "events": ["created"],
        "conditions": json.dumps(EXAMPLE_CONDITIONS, ensure_ascii=False, indent=1),
        "actions": json.dumps(EXAMPLE_ACTIONS, ensure_ascii=False, indent=1),
        "is_active": True,
    }


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)


def _json(form: FormData, key: str, empty: str) -> Any:
    try:
        return json.loads(text(form, key) or empty)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            _("%(field)s 不是有效的 JSON：第 %(line)d 行") % {"field": key, "line": exc.lineno},
            field=key,
        ) from None


def _fields(form: FormData) -> dict[str, Any]:
    """A rule's fields from its form; JSON fields that do not parse are named in the error."""
    fields: dict[str, Any] = {
        "name": text(form, "name", 128),
        "description": text(form, "description", 2000),
        "events": [e for e in form.getlist("events") if isinstance(e, str)],
        "stop": form.get("stop") == "on",
        "is_active": form.get("is_active") == "on",
    }
    if editor.uses_rows(form):  # the structured editor's rows
        fields["conditions"] = editor.conditions_from_rows(form)
        fields["actions"] = editor.actions_from_rows(form)
    else:  # the JSON an expert typed
        fields["conditions"] = _json(form, "conditions", "{}")
        fields["actions"] = _json(form, "actions", "[]")
    position = text(form, "position")
    if position:
        if not (position.isascii() and position.isdigit()) or int(position) > 1_000_000:
            raise InvalidInput(_("顺序必须是数字"), field="position")
        fields["position"] = int(position)
    return fields


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k) for k in ("name", "description", "position")}
    values["conditions"] = text(form, "conditions")
    values["actions"] = text(form, "actions")
    values["editor"] = "rows" if editor.uses_rows(form) else "json"
    if editor.uses_rows(form):  # shown again as the rows that were sent
        rows = (editor.conditions_from_rows(form), editor.actions_from_rows(form))
        values["conditions"], values["actions"] = (_pretty(r) for r in rows)
    values["events"] = [e for e in form.getlist("events") if isinstance(e, str)]
    values["stop"] = form.get("stop") == "on"
    values["is_active"] = form.get("is_active") == "on"
    return values


@router.get("/admin/rules")
def rules_page(request: Request, session: ReadSession, clock: ClockDep, user: AdminR) -> Response:
    return _rules_page(request, session, clock)


@router.post("/admin/rules")
def create_rule(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    try:
        rule = rules.create_rule(session, clock, actor_for(user), _fields(form))
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _rules_page(request, session, clock, exc.status_code, exc, _form_values(form))
    flash(request, _("已添加规则「%(name)s」") % {"name": rule.name})
    return redirect("/admin/rules")


def _rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(_("没有这个规则"), field="id")
    return rule


def _edit_page(
    request: Request,
    rule: RoutingRule,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    shown = values or {
        "name": rule.name,
        "description": rule.description,
        "position": str(rule.position),
        "events": rule.events,
        "conditions": json.dumps(rule.conditions, ensure_ascii=False, indent=1),
        "actions": json.dumps(rule.actions, ensure_ascii=False, indent=1),
        "stop": rule.stop,
        "is_active": rule.is_active,
    }
    session = object_session(rule)
    context = {
        "rule": rule,
        "shadowed_by": engine.shadowed(_all(session)).get(rule.id) if session else None,
        "catalog": editor.catalog(session) if session else {},
        "values": shown,
        "error": error,
        "events": engine.TRIGGER_NAMES,
        **HELPERS,
    }
    return render(request, "routing/rule.html", context, status_code)


@router.get("/admin/rules/{rule_id}")
def rule_page(request: Request, rule_id: RuleId, session: ReadSession, user: AdminR) -> Response:
    return _edit_page(request, _rule(session, rule_id))


@router.post("/admin/rules/{rule_id}")
def update_rule(
    request: Request,
    rule_id: RuleId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    rule = _rule(session, rule_id)
    try:
        version = form_version(form)
        rules.update_rule(session, clock, actor_for(user), rule, version, _fields(form))
        session.commit()
    except KesuError as exc:
        session.rollback()
        fresh = _rule(session, rule_id)
        return _edit_page(request, fresh, exc.status_code, exc, _form_values(form))
    flash(request, _("已保存规则「%(name)s」") % {"name": rule.name})
    return redirect("/admin/rules")


@router.post("/admin/rules/{rule_id}/toggle")
def toggle_rule(
    request: Request,
    rule_id: RuleId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    rule = _rule(session, rule_id)
    rules.update_rule(
        session, clock, actor_for(user), rule, rule.version, {"is_active": not rule.is_active}
    )
    session.commit()
    state = _("已启用") if rule.is_active else _("已停用")
    flash(request, f"{state}「{rule.name}」")
    return redirect("/admin/rules")


@router.post("/admin/rules/{rule_id}/move")
def move_rule(
    request: Request,
    rule_id: RuleId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    ids = [r.id for r in _all(session)]
    if rule_id not in ids:
        raise NotFound(_("没有这个规则"), field="id")
    index = ids.index(rule_id)
    other = index - 1 if text(form, "direction") == "up" else index + 1
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
        rules.reorder(session, clock, actor_for(user), ids)
        session.commit()
    return redirect("/admin/rules")


@router.post("/admin/rules/{rule_id}/delete")
def delete_rule(
    request: Request,
    rule_id: RuleId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    rule = _rule(session, rule_id)
    name = rule.name
    rules.delete_rule(session, clock, actor_for(user), rule)
    session.commit()
    flash(request, _("已删除规则「%(name)s」") % {"name": name})
    return redirect("/admin/rules")
