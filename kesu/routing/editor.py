"""The structured rule editor: what it offers (the catalog) and how its rows become the JSON
of a rule's conditions and actions.

The form's rows (written by kesu/web/static/kesu-rules.js, or by hand in a test)::

    editor=rows
    cg-0-match=all|any   cg-0-not=on          the top group (its items: leaves and sub-groups)
    cg-3-match=any       cg-3-not=on          a sub-group (one level of nesting)
    c-1-group=0  c-1-field=category  c-1-op=under  c-1-value=账务
    c-4-group=3  c-4-field=tier      c-4-op=in     c-4-value=vip  c-4-value=key
    c-5-group=0  c-5-field=same_category_count  c-5-op=gt  c-5-value=5  c-5-window=2
    a-1-type=assign  a-1-team=finance  a-1-strategy=round_robin  a-1-only_if_unassigned=on

Items are ordered by their number. The rows are turned into the same JSON an expert would type
(values converted by the field's kind as far as they can be) and validated by the same code
(``rules.validate``): a bad row is a 422 naming its node, e.g. ``conditions.all[1].value``.
``editor=json`` (or no ``editor``) takes the ``conditions`` / ``actions`` textareas instead.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.models import Team
from kesu.routing import actions as act
from kesu.routing import conditions
from kesu.taxonomy.service import category_tree
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

_LEAF = re.compile(r"^c-(\d{1,6})-field$")
_GROUP = re.compile(r"^cg-(\d{1,6})-match$")
_ACTION = re.compile(r"^a-(\d{1,6})-type$")
_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")
_INTEGER = re.compile(r"^-?\d{1,15}$")
_SPLIT = re.compile(r"[,，、\n]")
MAX_ROWS = conditions.MAX_NODES

STRINGS = {
    "all": N_("全部满足"),
    "any": N_("任一满足"),
    "not": N_("取反"),
    "add_condition": N_("添加条件"),
    "add_group": N_("添加条件组"),
    "add_action": N_("添加动作"),
    "remove": N_("删除"),
    "field": N_("字段"),
    "op": N_("运算"),
    "value": N_("值"),
    "and": N_("和"),
    "hours": N_("小时内"),
    "choose": N_("（请选择）"),
    "list_hint": N_("多个值用逗号分隔"),
    "group": N_("条件组"),
    "rows": N_("表格编辑"),
    "json": N_("JSON 编辑"),
    "too_complex": N_("这个条件嵌套太深，只能用 JSON 编辑"),
    "bad_json": N_("JSON 无效，请先修正"),
    "custom": N_("自定义字段"),
    "always": N_("没有条件：总是满足"),
    "level1": N_("一级分类"),
    "level2": N_("二级分类"),
    "level3": N_("三级分类"),
    "any_level": N_("（不限）"),
}


def catalog(session: Session) -> dict[str, Any]:
    """Everything the editor offers, for a ``data-catalog`` attribute."""
    teams = session.scalars(select(Team).where(Team.is_active).order_by(Team.id))
    return {
        "conditions": conditions.catalog(),
        "actions": act.catalog(),
        "teams": [{"value": act.CATEGORY_TEAM, "label": _(act.OPTION_LABELS[act.CATEGORY_TEAM])}]
        + [{"value": t.code, "label": t.name} for t in teams],
        "categories": [c.path for c in category_tree(session)],
        "strings": {key: _(text) for key, text in STRINGS.items()},
    }


def uses_rows(form: FormData) -> bool:
    return form.get("editor") == "rows"


# -- conditions ----------------------------------------------------------------------------


def conditions_from_rows(form: FormData) -> dict[str, Any]:
    """The JSON condition tree the rows describe (not yet validated)."""
    groups: dict[str, dict[str, Any]] = {"0": {"n": 0, "items": []}}
    for key in form:
        found = _GROUP.match(key)
        if found and found.group(1) != "0":
            groups[found.group(1)] = {"n": int(found.group(1)), "items": []}
    leaves = sorted(int(m.group(1)) for key in form if (m := _LEAF.match(key)))
    if len(leaves) + len(groups) > MAX_ROWS:
        leaves = leaves[: MAX_ROWS + 1]  # enough for parse() to name the limit
    for n in leaves:
        owner = _text(form, f"c-{n}-group") or "0"
        groups.get(owner, groups["0"])["items"].append((n, _leaf(form, n)))
    for group_id, group in groups.items():
        if group_id != "0":
            groups["0"]["items"].append((group["n"], _group(form, group_id, group["items"])))
    return _group(form, "0", groups["0"]["items"], top=True)


def _group(
    form: FormData, group_id: str, items: list[tuple[int, Any]], top: bool = False
) -> dict[str, Any]:
    match = "any" if _text(form, f"cg-{group_id}-match") == "any" else "all"
    ordered = [item for _, item in sorted(items, key=lambda pair: pair[0])]
    negate = form.get(f"cg-{group_id}-not") == "on"
    if top and not ordered and not negate:
        return {}
    body: dict[str, Any] = {match: ordered}
    return {"not": body} if negate else body


def _leaf(form: FormData, n: int) -> dict[str, Any]:
    field, op = _text(form, f"c-{n}-field"), _text(form, f"c-{n}-op")
    leaf: dict[str, Any] = {"field": field, "op": op}
    kind = conditions.field_kind(field) or "text"
    shape = conditions.value_shape(op)
    raw = [v.strip() for v in form.getlist(f"c-{n}-value") if isinstance(v, str)]
    raw = [v for v in raw if v]
    if shape in ("list", "pair"):
        items = [part.strip() for v in raw for part in _SPLIT.split(v) if part.strip()]
        if shape == "pair" and len(items) != 2 and len(raw) == 1 and "~" in raw[0]:
            items = [part.strip() for part in raw[0].split("~")]
        leaf["value"] = [_typed(kind, v) for v in items]
    elif shape == "one":
        leaf["value"] = _typed(kind, raw[0]) if raw else None
    if field == "same_category_count":
        window = _text(form, f"c-{n}-window")
        leaf["window_hours"] = int(window) if window.isascii() and window.isdigit() else window
    return leaf


def _typed(kind: str, value: str) -> Any:
    """A number for a number field (left as text when it is none: the check names it)."""
    if kind in ("number", "any") and _NUMBER.match(value):
        return float(value) if "." in value else int(value)
    return value


# -- actions -------------------------------------------------------------------------------


def actions_from_rows(form: FormData) -> list[dict[str, Any]]:
    specs = {entry["type"]: entry["params"] for entry in act.catalog()}
    numbers = sorted(int(m.group(1)) for key in form if (m := _ACTION.match(key)))
    found: list[dict[str, Any]] = []
    for n in numbers[: act.MAX_ACTIONS + 1]:
        kind = _text(form, f"a-{n}-type")
        action: dict[str, Any] = {"type": kind}
        for param in specs.get(kind, []):
            name = f"a-{n}-{param['name']}"
            if param["kind"] == "bool":
                action[param["name"]] = form.get(name) == "on"
                continue
            value = _text(form, name)
            if not value:
                continue
            if param["kind"] == "list":
                action[param["name"]] = [p.strip() for p in _SPLIT.split(value) if p.strip()]
            elif param["kind"] == "number":
                action[param["name"]] = int(value) if _INTEGER.match(value) else value
            else:
                action[param["name"]] = value
        found.append(action)
    return found


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:2000] if isinstance(value, str) else ""
