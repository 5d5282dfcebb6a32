"""Pages: the standards matrix (/admin/compensation: the principles, the rows in words, the
version history and the edit form that publishes a new version) and the recommendation card
on the complaint page (``card``; template ``compensation/_recommendation.html``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.views import AdminR, AdminW
from kesu.compensation import standards
from kesu.compensation.methods import METHODS
from kesu.compensation.models import StandardRule, StandardVersion
from kesu.compensation.recommend import condition_in_words, recommend
from kesu.compensation.standards_api import recommendation_out
from kesu.complaints.models import Complaint, Stage
from kesu.errors import InvalidInput, KesuError
from kesu.routing import conditions as cond
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
PAGE = "/admin/compensation"
AMOUNT_KEYS = ("amount", "percent", "min", "max", "cap")
# The stage from which the recommendation card shows (方案制定) and every later one.
CARD_FROM_STAGE = "proposing"


# -- the recommendation card ----------------------------------------------------------------


def card(session: Session, complaint: Complaint, stages: Sequence[Stage]) -> dict[str, Any] | None:
    """What ``compensation/_recommendation.html`` shows, or None before 方案制定 (and for
    merged complaints). ``{"rec": … | None, "words": …}``: ``rec`` None means no row applies."""
    positions = {s.code: s.position for s in stages}
    start, here = positions.get(CARD_FROM_STAGE), positions.get(complaint.stage)
    if start is None or here is None or here < start or complaint.merged_into_id is not None:
        return None
    rec = recommend(session, complaint)
    if rec is None:
        return {"rec": None, "words": ""}
    rule = session.get(StandardRule, rec.rule_id)
    return {
        "rec": recommendation_out(rec),
        "words": standards.rule_in_words(rule, _locale()) if rule is not None else "",
        "order_value": complaint.order_value,
    }


def _locale() -> str:
    from kesu.web.i18n import current_locale

    return current_locale()


# -- the admin page -------------------------------------------------------------------------


def _rule_row(rule: StandardRule, ctx: Any) -> dict[str, Any]:
    """One row of the matrix as shown (words) and as the edit form's values (strings)."""
    amount_rule = rule.amount_rule or {}
    return {
        "id": rule.id,
        "position": rule.position,
        "name": standards.rule_name(rule),
        "conditions_words": condition_in_words(cond.parse(rule.conditions or {}), ctx)
        or _("所有投诉"),
        "methods_words": standards.methods_in_words(rule.methods or []),
        "amount_words": standards.amount_rule_in_words(amount_rule),
        "form": {
            "name": rule.name,
            "name_en": rule.name_en,
            "conditions": json.dumps(rule.conditions or {}, ensure_ascii=False),
            "methods": list(rule.methods or []),
            "kind": amount_rule.get("kind", "fixed"),
            **{k: str(amount_rule.get(k) or "") for k in AMOUNT_KEYS},
            "order": str(rule.position),
        },
    }


def _page(
    request: Request,
    session: Session,
    shown: StandardVersion,
    *,
    form_rows: list[dict[str, Any]] | None = None,
    base_version: int | None = None,
    error: KesuError | None = None,
    note: str = "",
    status_code: int = 200,
) -> Response:
    from kesu.complaints import event_text

    ctx = event_text.context(session)
    latest = standards.current_version(session)
    rows = [_rule_row(r, ctx) for r in standards.rules_of(session, shown)]
    editing = form_rows if form_rows is not None else [r["form"] for r in rows]
    blank = {"name": "", "name_en": "", "conditions": "{}", "methods": [], "kind": "fixed"}
    return render(
        request,
        "compensation/standards.html",
        {
            "shown": shown,
            "latest": latest,
            "rows": rows,
            "form_rows": [*editing, {**blank, **{k: "" for k in AMOUNT_KEYS}, "order": ""}],
            "base_version": base_version if base_version is not None else latest.number,
            "history": standards.versions(session),
            "principles": standards.principles(),
            "METHODS": {code: _(label) for code, label in METHODS.items()},
            "KINDS": {code: _(label) for code, label in standards.KINDS.items()},
            "error": error,
            "note": note,
        },
        status_code,
    )


@router.get(PAGE, dependencies=[PageNeeds(Permission.admin)])
def standards_page(
    request: Request,
    session: ReadSession,
    user: AdminR,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    shown = (
        standards.get_version(session, version)
        if version is not None
        else standards.current_version(session)
    )
    return _page(request, session, shown)


def _form_rows(form: FormData) -> list[tuple[int, dict[str, Any]]]:
    """The submitted rows (form index, values as strings), deleted and empty ones left out,
    in the order given by their ``order`` numbers (then as listed)."""
    count = text(form, "rows", 4)
    if not count.isdigit() or not 0 <= int(count) <= standards.MAX_RULES + 1:
        raise InvalidInput(_("行数无效"), field="rows")
    rows: list[tuple[float, int, dict[str, Any]]] = []
    for i in range(int(count)):
        values: dict[str, Any] = {
            "name": text(form, f"name_{i}", 200),
            "name_en": text(form, f"name_en_{i}", 200),
            "conditions": text(form, f"conditions_{i}", 20_000) or "{}",
            "methods": [m for m in form.getlist(f"methods_{i}") if isinstance(m, str)][:10],
            "kind": text(form, f"kind_{i}", 32),
            **{k: text(form, f"{k}_{i}", 24) for k in AMOUNT_KEYS},
            "order": text(form, f"order_{i}", 8),
            "delete": text(form, f"delete_{i}", 8) == "1",
        }
        if values["delete"] or (not values["name"] and i == int(count) - 1):
            continue  # a deleted row, or the blank row at the end left empty
        order = values["order"]
        rows.append((float(order) if order.isdigit() else float(i + 1), i, values))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(i, values) for _order, i, values in rows]


def _validate(rows: list[tuple[int, dict[str, Any]]]) -> list[standards.RuleData]:
    if not rows:
        raise InvalidInput(_("赔付标准至少需要一行"), field="rules")
    if len(rows) > standards.MAX_RULES:
        raise InvalidInput(_("最多 %(n)d 行") % {"n": standards.MAX_RULES}, field="rules")
    out = []
    for position, (i, values) in enumerate(rows):
        where = f"rules[{position}]"
        try:
            try:
                conditions = json.loads(values["conditions"])
            except ValueError:
                raise InvalidInput(_("条件不是有效的 JSON"), field=f"{where}.conditions") from None
            raw = {
                "name": values["name"],
                "name_en": values["name_en"],
                "conditions": conditions,
                "methods": values["methods"],
                "amount_rule": {
                    "kind": values["kind"],
                    **{k: values[k] for k in AMOUNT_KEYS if values[k]},
                },
            }
            out.append(standards.validate_rule(raw, where))
        except InvalidInput as exc:
            name = values["name"] or "—"
            raise InvalidInput(
                _("第 %(n)d 行（%(name)s）：%(problem)s")
                % {"n": i + 1, "name": name, "problem": exc.message},
                field=exc.field,
            ) from None
    return out


@router.post(PAGE, dependencies=[PageNeedsW(Permission.admin)])
def publish_page(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    note = text(form, "note", 2000)
    raw_base = text(form, "base_version", 10)
    base = int(raw_base) if raw_base.isdigit() else None
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        rows = _form_rows(form)
        rules = _validate(rows)
        if base is None:
            raise InvalidInput(_("缺少所编辑的版本号"), field="base_version")
        version = standards.publish(
            session, clock, actor_for(user), rules, base_version=base, note=note
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        latest = standards.current_version(session)
        return _page(
            request,
            session,
            latest,
            form_rows=[values for _i, values in rows] or None,
            base_version=base,
            error=exc,
            note=note,
            status_code=exc.status_code,
        )
    flash(request, _("已发布第 %(n)d 版赔付标准") % {"n": version.number})
    return redirect(PAGE)
