"""Admin pages of triage's configuration: keyword rules per category, and the lexicons (risk
words, emotion words, the user dictionary)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.views import AdminR, AdminW
from kesu.errors import InvalidInput, KesuError
from kesu.taxonomy.service import category_tree
from kesu.triage import lexicons, rules
from kesu.triage.lexicons import CATEGORIES, LexiconName
from kesu.triage.models import KeywordRule
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import QueryCode
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Words in a form field: one per line or separated by commas / 、 / semicolons.
_WORD_SEPARATORS = re.compile(r"[\n,，、;；]+")


# ---- keyword rules -------------------------------------------------------------------------


def _words(form: FormData, name: str) -> list[str]:
    return [w.strip() for w in _WORD_SEPARATORS.split(text(form, name, 5000)) if w.strip()]


def _number(form: FormData, name: str, default: float) -> float:
    raw = text(form, name, 32)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput(_("请填写数字"), field=name)
    return value


def _rule_fields(form: FormData) -> dict[str, Any]:
    return {
        "category": text(form, "category", 255),
        "include": _words(form, "include"),
        "exclude": _words(form, "exclude"),
        "weight": _number(form, "weight", 0.9),
        "is_active": form.get("is_active") == "on",
        "note": text(form, "note", 2000),
    }


def _rule_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: text(form, k) for k in ("category", "include", "exclude", "weight", "note")
    }
    values["is_active"] = form.get("is_active") == "on"
    return values


def _blank_rule() -> dict[str, Any]:
    return {"weight": "0.9", "is_active": True}


def _rules_page(
    request: Request,
    session: Session,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    context = {
        "rules": rules.list_rules(session),
        "categories": category_tree(session),
        "values": values or _blank_rule(),
        "error": error,
    }
    return render(request, "triage/rules.html", context, status_code)


@router.get("/admin/triage/rules")
def rules_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _rules_page(request, session)


@router.post("/admin/triage/rules")
def create_rule(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    try:
        rules.save_rule(session, clock, **_rule_fields(form), actor=actor_for(user))
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _rules_page(request, session, exc.status_code, exc, _rule_values(form))
    flash(request, _("已添加关键词规则"))
    return redirect("/admin/triage/rules")


def _edit_page(
    request: Request,
    session: Session,
    rule: KeywordRule,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    shown = values or {
        "category": str(rule.category_id),
        "include": "\n".join(rule.include),
        "exclude": "\n".join(rule.exclude),
        "weight": f"{rule.weight:g}",
        "note": rule.note,
        "is_active": rule.is_active,
    }
    context = {
        "rule": rule,
        "categories": category_tree(session),
        "values": shown,
        "error": error,
    }
    return render(request, "triage/rule.html", context, status_code)


@router.get("/admin/triage/rules/{rule_id}")
def rule_page(request: Request, rule_id: RowId, session: ReadSession, user: AdminR) -> Response:
    return _edit_page(request, session, rules.get_rule(session, rule_id))


@router.post("/admin/triage/rules/{rule_id}")
def update_rule(
    request: Request,
    rule_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    rules.get_rule(session, rule_id)  # 404 before anything else
    try:
        fields = _rule_fields(form)
        rules.save_rule(session, clock, **fields, rule_id=rule_id, actor=actor_for(user))
        session.commit()
    except KesuError as exc:
        session.rollback()
        rule = rules.get_rule(session, rule_id)
        return _edit_page(request, session, rule, exc.status_code, exc, _rule_values(form))
    flash(request, _("已保存关键词规则"))
    return redirect("/admin/triage/rules")


@router.post("/admin/triage/rules/{rule_id}/toggle")
def toggle_rule(
    request: Request,
    rule_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    rule = rules.get_rule(session, rule_id)
    rules.save_rule(
        session,
        clock,
        category=rule.category_id,
        include=list(rule.include),
        exclude=list(rule.exclude),
        weight=rule.weight,
        is_active=not rule.is_active,
        note=rule.note,
        rule_id=rule.id,
        actor=actor_for(user),
    )
    session.commit()
    flash(request, _("已启用规则") if rule.is_active else _("已停用规则"))
    return redirect("/admin/triage/rules")


@router.post("/admin/triage/rules/{rule_id}/delete")
def delete_rule(
    request: Request,
    rule_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    rules.delete_rule(session, rule_id, clock=clock, actor=actor_for(user))
    session.commit()
    flash(request, _("已删除关键词规则"))
    return redirect("/admin/triage/rules")


# ---- lexicons ------------------------------------------------------------------------------


def _lexicon_of(value: str) -> LexiconName:
    try:
        return LexiconName(value)
    except ValueError:
        raise InvalidInput(_("没有这个词库"), field="lexicon") from None


def _lexicons_page(
    request: Request,
    session: Session,
    lexicon: LexiconName,
    status_code: int = 200,
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    context = {
        "lexicon": lexicon.value,
        "lexicons": [name.value for name in LexiconName],
        "categories": [c for c in CATEGORIES[lexicon] if c],
        "entries": lexicons.list_entries(session, lexicon),
        "values": values or {"weight": "2" if lexicon == LexiconName.risk else "0.6"},
        "error": error,
    }
    return render(request, "triage/lexicons.html", context, status_code)


@router.get("/admin/triage/lexicons")
def lexicons_page(
    request: Request, session: ReadSession, user: AdminR, lexicon: QueryCode = "risk"
) -> Response:
    return _lexicons_page(request, session, _lexicon_of(lexicon))


@router.post("/admin/triage/lexicons")
def add_word(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    lexicon = _lexicon_of(text(form, "lexicon"))
    values = {k: text(form, k, 200) for k in ("word", "category", "weight")}
    try:
        default = 1.0 if lexicon != LexiconName.emotion else 0.6
        weight = _number(form, "weight", default)
        entry = lexicons.add_entry(
            session,
            clock,
            lexicon,
            values["word"],
            values["category"],
            weight,
            actor=actor_for(user),
        )
        word = entry.word
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _lexicons_page(request, session, lexicon, exc.status_code, exc, values)
    flash(request, _("已添加「%(word)s」") % {"word": word})
    return redirect(f"/admin/triage/lexicons?lexicon={lexicon.value}")


@router.post("/admin/triage/lexicons/{entry_id}/delete")
def delete_word(
    request: Request,
    entry_id: RowId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    lexicon = _lexicon_of(text(form, "lexicon") or "risk")
    lexicons.delete_entry(session, entry_id, clock=clock, actor=actor_for(user))
    session.commit()
    flash(request, _("已删除词条"))
    return redirect(f"/admin/triage/lexicons?lexicon={lexicon.value}")
