"""Conditions as structured JSON, validated on the way in and evaluated by a small interpreter.

Routing rules and SLA policies share this language (never ``eval``)::

    {"all": [c, …]}                  every child holds; {"all": []} always holds
    {"any": [c, …]}                  at least one child holds
    {"not": c}
    {"field": "category", "op": "under", "value": "账务"}
    {"field": "text", "op": "contains_any", "value": ["媒体", "曝光", "315"]}
    {"field": "same_category_count", "window_hours": 24, "op": "gt", "value": 5}

``FIELDS`` lists the fields and ``OPS`` which operators each kind of field takes; a bad tree is
refused with a message naming the path of the offending node (``conditions.all[1].op``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from kesu.errors import InvalidInput
from kesu.taxonomy.enums import SEVERITY_RANK, Severity
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

FIELDS: dict[str, str] = {
    "category": "category",  # path 产品质量/包装破损/外箱压坏
    "severity": "severity",
    "priority": "number",
    "channel": "text",
    "tier": "text",
    "region": "text",
    "product": "text",
    "remedy": "text",
    "stage": "text",
    "team": "text",  # team code
    "assignee": "text",  # username
    "title": "text",
    "content": "text",
    "text": "text",  # title and content: keyword rules
    "tags": "list",
    "risk": "bool",  # a risk flag (tag "risk" or "risk:N", or risk_level ≥ 1)
    "risk_level": "number",  # 0–3
    "repeat": "bool",  # a repeat complaint (重复投诉)
    "reopen_count": "number",
    "order_value": "number",  # the order's value in CNY (a Decimal; compensation standards)
    "time": "time",  # local time of day HH:MM (Asia/Shanghai)
    "weekday": "number",  # 1 = Monday … 7 = Sunday
    "date": "date",  # local date YYYY-MM-DD
    "month_day": "month_day",  # MM-DD, yearly periods such as 03-08 … 03-22 (315)
    "business_hours": "bool",  # inside the standard calendar's business hours
    "same_category_count": "number",  # complaints of this category in the last window_hours
}
CUSTOM_PREFIX = "custom."

_LIST_OPS = {"in", "not_in", "contains_any", "contains_all"}
_NO_VALUE_OPS = {"is_empty", "not_empty", "is_true", "is_false"}
_ORDER_OPS = {"gt", "gte", "lt", "lte", "between"}
OPS: dict[str, set[str]] = {
    "text": {"eq", "ne", "in", "not_in", "contains", "not_contains", "contains_any"}
    | {"contains_all", "is_empty", "not_empty"},
    "category": {"eq", "ne", "under", "not_under", "in", "is_empty", "not_empty"},
    "severity": {"eq", "ne", "in", "not_in"} | _ORDER_OPS - {"between"},
    "number": {"eq", "ne", "in", "not_in", "is_empty", "not_empty"} | _ORDER_OPS,
    "list": {"contains", "not_contains", "contains_any", "contains_all", "is_empty", "not_empty"},
    "bool": {"is_true", "is_false"},
    "time": {"between", "gte", "lt"},
    "date": {"eq", "in", "between", "gte", "lte", "gt", "lt"},
    "month_day": {"eq", "in", "between"},
    "any": {"eq", "ne", "in", "not_in", "contains", "contains_any", "is_empty", "not_empty"}
    | _ORDER_OPS,
}
MAX_NODES = 200
_TIME = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


@dataclass(frozen=True)
class Leaf:
    field: str
    op: str
    value: Any = None
    window_hours: int = 24


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class NotOf:
    item: Condition


Condition = Leaf | AllOf | AnyOf | NotOf
ALWAYS = AllOf(())


class Facts(Protocol):
    def get(self, field: str, leaf: Leaf) -> Any: ...


# -- parsing --------------------------------------------------------------------------------


def parse(raw: Any, path: str = "conditions") -> Condition:
    """Validates a JSON condition tree; raises ``InvalidInput`` naming the offending node."""
    counter = [0]
    return _parse(raw, path, counter)


def _parse(raw: Any, path: str, counter: list[int]) -> Condition:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise InvalidInput(_("条件太多（最多 %(n)d 个）") % {"n": MAX_NODES}, field=path)
    if raw is None or raw == {}:
        return ALWAYS
    if not isinstance(raw, Mapping):
        raise InvalidInput(_("条件必须是对象"), field=path)
    keys = set(raw)
    for group, kind in (("all", AllOf), ("any", AnyOf)):
        if group in keys:
            _only(keys, {group}, path)
            items = raw[group]
            if not isinstance(items, list):
                raise InvalidInput(
                    _("%(group)s 需要一个列表") % {"group": group}, field=f"{path}.{group}"
                )
            parsed = tuple(
                _parse(item, f"{path}.{group}[{i}]", counter) for i, item in enumerate(items)
            )
            return kind(parsed)
    if "not" in keys:
        _only(keys, {"not"}, path)
        return NotOf(_parse(raw["not"], f"{path}.not", counter))
    _only(keys, {"field", "op", "value", "window_hours"}, path)
    return _leaf(raw, path)


def _only(keys: set[str], allowed: set[str], path: str) -> None:
    extra = keys - allowed
    if extra:
        name = sorted(extra)[0]
        raise InvalidInput(_("条件中有未知的键 %(key)s") % {"key": name}, field=f"{path}.{name}")


def _leaf(raw: Mapping[str, Any], path: str) -> Leaf:
    field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if not isinstance(field, str) or not field:
        raise InvalidInput(_("请选择字段"), field=f"{path}.field")
    kind = field_kind(field)
    if kind is None:
        raise InvalidInput(_("未知字段 %(field)s") % {"field": field}, field=f"{path}.field")
    if not isinstance(op, str) or op not in OPS[kind]:
        allowed = ", ".join(sorted(OPS[kind]))
        raise InvalidInput(
            _("字段 %(field)s 不支持运算 %(op)s（可用：%(allowed)s）")
            % {"field": field, "op": op, "allowed": allowed},
            field=f"{path}.op",
        )
    window = raw.get("window_hours", 24)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 24 * 31:
        raise InvalidInput(_("时间窗口需在 1–744 小时之间"), field=f"{path}.window_hours")
    _check_value(kind, op, value, f"{path}.value")
    if kind == "severity":
        value = [str(v) for v in value] if isinstance(value, list) else str(value)
    return Leaf(field, op, tuple(value) if isinstance(value, list) else value, window)


def field_kind(field: str) -> str | None:
    if field.startswith(CUSTOM_PREFIX) and len(field) > len(CUSTOM_PREFIX):
        return "any"
    return FIELDS.get(field)


def _check_value(kind: str, op: str, value: Any, where: str) -> None:
    def fail(what: str) -> None:
        raise InvalidInput(_("运算 %(op)s 的值%(what)s") % {"op": op, "what": what}, field=where)

    if op in _NO_VALUE_OPS:
        if value is not None:
            fail(_("必须为空"))
        return
    if op in _LIST_OPS or op == "between":
        if not isinstance(value, list) or not value:
            fail(_("必须是非空列表"))
        if op == "between" and len(value) != 2:
            fail(_("必须是两个值（从、到）"))
        items = value
    elif kind == "category" and op in ("under", "not_under") and isinstance(value, list):
        items = value  # under any of several branches
    else:
        if isinstance(value, list | dict) or value is None:
            fail(_("必须是单个值"))
        items = [value]
    for item in items:
        _check_item(kind, item, fail)


def _check_item(kind: str, item: Any, fail: Callable[[str], None]) -> None:
    if isinstance(item, list | dict) or item is None:
        fail(_("不能嵌套或为空"))
    elif kind == "number" and (isinstance(item, bool) or not isinstance(item, int | float)):
        fail(_("必须是数字"))
    elif kind == "severity" and item not in Severity.__members__:
        fail(_("必须是严重程度 %(values)s") % {"values": "/".join(Severity.__members__)})
    elif kind == "time" and not (isinstance(item, str) and _TIME.match(item)):
        fail(_("必须是时间 HH:MM"))
    elif kind == "date" and not (isinstance(item, str) and _DATE.match(item)):
        fail(_("必须是日期 YYYY-MM-DD"))
    elif kind == "month_day" and not (isinstance(item, str) and _MONTH_DAY.match(item)):
        fail(_("必须是月-日 MM-DD"))
    elif kind in ("text", "category", "list") and not isinstance(item, str | int | float):
        fail(_("必须是文字"))


def to_json(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, AllOf):
        return {"all": [to_json(c) for c in condition.items]}
    if isinstance(condition, AnyOf):
        return {"any": [to_json(c) for c in condition.items]}
    if isinstance(condition, NotOf):
        return {"not": to_json(condition.item)}
    body: dict[str, Any] = {"field": condition.field, "op": condition.op}
    if condition.value is not None:
        value = condition.value
        body["value"] = list(value) if isinstance(value, tuple) else value
    if condition.field == "same_category_count":
        body["window_hours"] = condition.window_hours
    return body


# -- evaluation -----------------------------------------------------------------------------


def matches(condition: Condition, facts: Facts) -> bool:
    if isinstance(condition, AllOf):
        return all(matches(c, facts) for c in condition.items)
    if isinstance(condition, AnyOf):
        return any(matches(c, facts) for c in condition.items)
    if isinstance(condition, NotOf):
        return not matches(condition.item, facts)
    kind = field_kind(condition.field) or "any"
    return _apply(kind, condition.op, facts.get(condition.field, condition), condition.value)


def _apply(kind: str, op: str, actual: Any, expected: Any) -> bool:
    if op == "is_empty":
        return actual in (None, "", [], ())
    if op == "not_empty":
        return actual not in (None, "", [], ())
    if op == "is_true":
        return bool(actual)
    if op == "is_false":
        return not actual
    if actual is None:
        return op in ("ne", "not_in", "not_contains", "not_under")
    if kind == "category":
        return _category(op, str(actual), expected)
    if kind == "severity":
        actual, expected = _rank(actual), _rank(expected)
    if isinstance(actual, Decimal):  # money: compare exactly (199.99 is not the float 199.99)
        expected = _as_decimal(expected)
    if kind in ("text", "list", "any") and op in _TEXT_OPS:
        return _TEXT_OPS[op](_fold(actual), _fold(expected))
    if op == "between":
        low, high = expected
        if kind in ("time", "month_day") and low > high:  # across midnight / the new year
            return (
                bool(actual >= low or actual < high)
                if kind == "time"
                else bool(actual >= low or actual <= high)
            )
        return bool(low <= actual < high) if kind == "time" else bool(low <= actual <= high)
    return _compare(op, actual, expected)


def _as_decimal(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_as_decimal(v) for v in value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _compare(op: str, actual: Any, expected: Any) -> bool:
    try:
        if op == "eq":
            return bool(_fold(actual) == _fold(expected))
        if op == "ne":
            return bool(_fold(actual) != _fold(expected))
        if op == "in":
            return _fold(actual) in _fold(expected)
        if op == "not_in":
            return _fold(actual) not in _fold(expected)
        if op == "gt":
            return bool(actual > expected)
        if op == "gte":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        if op == "lte":
            return bool(actual <= expected)
    except TypeError:  # e.g. a custom field holding text compared with a number
        return False
    return False


def _contains(actual: Any, item: Any) -> bool:
    if isinstance(actual, list | tuple):
        return item in actual
    return str(item) in str(actual)


_TEXT_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": _contains,
    "not_contains": lambda a, e: not _contains(a, e),
    "contains_any": lambda a, e: any(_contains(a, item) for item in e),
    "contains_all": lambda a, e: all(_contains(a, item) for item in e),
}


def _category(op: str, path: str, expected: Any) -> bool:
    branches = expected if isinstance(expected, tuple) else (expected,)
    under = any(path == b or path.startswith(f"{b}/") for b in map(str, branches))
    if op == "under":
        return under
    if op == "not_under":
        return not under
    if op == "eq":
        return path == expected
    if op == "ne":
        return path != expected
    return path in branches  # in


def _rank(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_rank(v) for v in value)
    try:
        return SEVERITY_RANK[Severity(value)]
    except ValueError:
        return -1


def _fold(value: Any) -> Any:
    """Case-insensitive comparison of text (``VIP`` = ``vip``); numbers pass through."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list | tuple):
        return tuple(_fold(v) for v in value)
    return value


def referenced_fields(condition: Condition) -> set[str]:
    if isinstance(condition, AllOf | AnyOf):
        return set().union(*(referenced_fields(c) for c in condition.items))
    if isinstance(condition, NotOf):
        return referenced_fields(condition.item)
    return {condition.field}


# -- the catalog: what an editor may offer (machine-readable) ------------------------------

FIELD_LABELS: dict[str, str] = {
    "category": N_("分类"),
    "severity": N_("严重程度"),
    "priority": N_("优先级"),
    "channel": N_("渠道"),
    "tier": N_("客户等级"),
    "region": N_("地区"),
    "product": N_("产品"),
    "remedy": N_("诉求"),
    "stage": N_("阶段"),
    "team": N_("团队"),
    "assignee": N_("处理人"),
    "title": N_("标题"),
    "content": N_("投诉内容"),
    "text": N_("标题或内容"),
    "tags": N_("标签"),
    "risk": N_("有风险"),
    "risk_level": N_("风险等级"),
    "repeat": N_("重复投诉"),
    "reopen_count": N_("重新打开次数"),
    "order_value": N_("订单金额（元）"),
    "time": N_("时间（时:分）"),
    "weekday": N_("星期（1=周一）"),
    "date": N_("日期"),
    "month_day": N_("月-日"),
    "business_hours": N_("工作时间内"),
    "same_category_count": N_("同类投诉数量"),
}
OP_LABELS: dict[str, str] = {
    "eq": N_("等于"),
    "ne": N_("不等于"),
    "in": N_("是其中之一"),
    "not_in": N_("不是其中之一"),
    "contains": N_("包含"),
    "not_contains": N_("不包含"),
    "contains_any": N_("包含任一"),
    "contains_all": N_("包含全部"),
    "is_empty": N_("为空"),
    "not_empty": N_("不为空"),
    "is_true": N_("是"),
    "is_false": N_("否"),
    "under": N_("属于（含下级）"),
    "not_under": N_("不属于（含下级）"),
    "gt": N_("大于"),
    "gte": N_("大于等于"),
    "lt": N_("小于"),
    "lte": N_("小于等于"),
    "between": N_("介于"),
}
# The order in which an editor lists a kind's operators (the most common first).
OP_ORDER = (
    "contains",
    "under",
    "eq",
    "ne",
    "in",
    "not_in",
    "not_contains",
    "contains_any",
    "contains_all",
    "not_under",
    "gte",
    "gt",
    "lte",
    "lt",
    "between",
    "is_true",
    "is_false",
    "is_empty",
    "not_empty",
)


def value_shape(op: str) -> str:
    """What value an operator takes: ``none``, ``one``, ``list`` or ``pair`` (between)."""
    if op in _NO_VALUE_OPS:
        return "none"
    if op == "between":
        return "pair"
    if op in _LIST_OPS:
        return "list"
    return "one"


def _options(field: str) -> list[dict[str, str]] | None:
    from kesu.complaints.enums import CHANNEL_LABELS, REMEDY_LABELS, TIER_LABELS
    from kesu.taxonomy.enums import SEVERITY_LABELS

    tables: dict[str, Mapping[Any, str]] = {
        "severity": SEVERITY_LABELS,
        "channel": CHANNEL_LABELS,
        "tier": TIER_LABELS,
        "remedy": REMEDY_LABELS,
    }
    labels = tables.get(field)
    if labels is None:
        return None
    return [{"value": str(code.value), "label": _(text)} for code, text in labels.items()]


def catalog() -> dict[str, Any]:
    """Every field with its kind, label, operators (with the shape of their value) and, for
    enumerations, the allowed values; translated into the caller's language."""
    fields = []
    for name, kind in FIELDS.items():
        entry: dict[str, Any] = {
            "name": name,
            "label": _(FIELD_LABELS.get(name, name)),
            "kind": kind,
            "ops": [op for op in OP_ORDER if op in OPS[kind]],
            "window_hours": name == "same_category_count",
        }
        options = _options(name)
        if options is not None:
            entry["options"] = options
        fields.append(entry)
    return {
        "fields": fields,
        "ops": {
            op: {"label": _(label), "value": value_shape(op)} for op, label in OP_LABELS.items()
        },
        "custom_field_prefix": CUSTOM_PREFIX,
        "custom_ops": [op for op in OP_ORDER if op in OPS["any"]],
        "max_nodes": MAX_NODES,
    }
