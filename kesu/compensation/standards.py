"""The standards matrix (赔付标准): versions of rows; a row is conditions → methods + amount rule.

- A **version** (``StandardVersion``, numbered 1, 2, 3 …) is the whole matrix; the highest
  number is current. Editing never changes a row: ``publish`` copies the submitted list of rows
  into a new version, so a request made under version N (``CompensationRequest.standard_version``
  and ``rule_id``) can always be read back as it was. ``publish`` takes the version the editor
  started from and refuses a stale one (409), like the complaint's optimistic lock; two
  concurrent publications collide on the unique ``number`` and the loser is a 409 too.
- A **row** (``StandardRule``): ``conditions`` in the routing condition language
  (``kesu.routing.conditions``, validated by its parser, evaluated by its interpreter on the
  complaint's facts), ``methods`` (codes of ``kesu.compensation.methods``; the customer may
  choose among them, the first is recommended) and ``amount_rule``, one of::

      {"kind": "fixed", "amount": "20.00"}
      {"kind": "percent", "percent": "100", "min": "5.00"?, "cap": "2000.00"?}  # of order_value
      {"kind": "range", "min": "20.00", "max": "200.00"}     # min recommended, up to max
      {"kind": "case_by_case", "cap": "500.00"}             # decided by staff, up to cap

  Amounts are decimal strings with at most two places, ``Decimal`` in Python, never floats.
- The seed (``data/standards.toml``) becomes version 1 when the table is empty
  (``seed``, called by ``kesu.seeds.loader``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.compensation.methods import METHODS
from kesu.compensation.models import StandardRule, StandardVersion
from kesu.errors import InvalidInput, NotFound, StaleVersion
from kesu.routing import conditions as cond
from kesu.web import i18n
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

DATA_FILE = Path(__file__).resolve().parent / "data" / "standards.toml"
CURRENCY = "CNY"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000.00")  # no single compensation above a million yuan
MAX_RULES = 200
MAX_NAME = 128
KINDS: dict[str, str] = {
    "fixed": N_("固定金额"),
    "percent": N_("订单金额的百分比"),
    "range": N_("金额范围（有上限）"),
    "case_by_case": N_("按具体情况（有上限）"),
}
# The four principles the source documents name for a compensation standard.
PRINCIPLES: tuple[tuple[str, str, str], ...] = (
    ("fairness", N_("公平"), N_("所有客户在相同情况下得到相同对待。")),
    ("reasonableness", N_("合理"), N_("补偿金额应与实际损失相符，避免过度或不足。")),
    ("timeliness", N_("及时"), N_("简化审批流程，确保客户能够在最短时间内获得赔付。")),
    ("transparency", N_("透明"), N_("让客户清楚了解赔付规则和流程。")),
)


# -- amounts --------------------------------------------------------------------------------


def money(value: Any, field: str, *, allow_zero: bool = True) -> Decimal:
    """A decimal string or integer (or a JSON number, read through its shortest text) with at
    most two places, 0 ≤ value ≤ ``MAX_AMOUNT``; anything else is a 422 naming ``field``."""
    number = _decimal(value, field)
    if number.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(_("金额最多两位小数"), field=field)
    if number < 0 or (number == 0 and not allow_zero):
        raise InvalidInput(_("金额不能为负数") if number < 0 else _("金额必须大于零"), field=field)
    if number > MAX_AMOUNT:
        raise InvalidInput(
            _("金额不能超过 %(max)s 元") % {"max": f"{MAX_AMOUNT:,.2f}"}, field=field
        )
    return number.quantize(CENT)


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidInput(_("必须是数字（如 19.90）"), field=field)
    text = str(value).strip()
    if not text or len(text) > 20:
        raise InvalidInput(_("必须是数字（如 19.90）"), field=field)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(_("必须是数字（如 19.90）"), field=field) from None
    if not number.is_finite():
        raise InvalidInput(_("必须是数字（如 19.90）"), field=field)
    return number


def _percent(value: Any, field: str) -> Decimal:
    number = _decimal(value, field)
    if number.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(_("百分比最多两位小数"), field=field)
    if not Decimal(0) < number <= Decimal(100):
        raise InvalidInput(_("百分比需大于 0 且不超过 100"), field=field)
    return number


def quantize(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Amount:
    """What an amount rule gives for one complaint."""

    amount: Decimal
    amount_max: Decimal | None
    case_by_case: bool
    order_value_missing: bool = False


def compute(amount_rule: Mapping[str, Any], order_value: Decimal | None) -> Amount:
    """The amount of a (validated) amount rule for an order value; exact decimals, half up."""
    kind = amount_rule["kind"]
    if kind == "fixed":
        return Amount(Decimal(amount_rule["amount"]), None, False)
    if kind == "range":
        return Amount(Decimal(amount_rule["min"]), Decimal(amount_rule["max"]), False)
    if kind == "case_by_case":
        return Amount(Decimal("0.00"), Decimal(amount_rule["cap"]), True)
    # percent of the order value, within [min, cap]
    low = Decimal(amount_rule["min"]) if amount_rule.get("min") is not None else None
    cap = Decimal(amount_rule["cap"]) if amount_rule.get("cap") is not None else None
    if order_value is None:  # nothing to take a percentage of: staff decide, within the cap
        return Amount(Decimal("0.00"), cap, True, order_value_missing=True)
    amount = quantize(Decimal(order_value) * Decimal(amount_rule["percent"]) / Decimal(100))
    if low is not None and amount < low:
        amount = low
    if cap is not None and amount > cap:
        amount = cap
    return Amount(quantize(amount), None, False)


# -- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleData:
    """One validated row, ready to be written into a version."""

    name: str
    name_en: str
    conditions: dict[str, Any]
    methods: tuple[str, ...]
    amount_rule: dict[str, Any]


def validate_rule(raw: Any, where: str) -> RuleData:
    """Checks one submitted row; a 422 names row and field (``rules[2].amount_rule.cap``)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(_("每一行必须是对象"), field=where)
    extra = set(raw) - {"name", "name_en", "conditions", "methods", "amount_rule", "id"}
    if extra:
        name = sorted(extra)[0]
        raise InvalidInput(_("未知的键 %(key)s") % {"key": name}, field=f"{where}.{name}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise InvalidInput(_("名称必填，最多 128 个字"), field=f"{where}.name")
    name_en = raw.get("name_en", "") or ""
    if not isinstance(name_en, str) or len(name_en.strip()) > MAX_NAME:
        raise InvalidInput(_("英文名称最多 128 个字"), field=f"{where}.name_en")
    parsed = cond.parse(raw.get("conditions") or {}, f"{where}.conditions")
    methods = raw.get("methods")
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, list) or not methods:
        raise InvalidInput(_("请至少选择一种赔付方式"), field=f"{where}.methods")
    seen: list[str] = []
    for i, method in enumerate(methods):
        if not isinstance(method, str) or method not in METHODS:
            raise InvalidInput(
                _("未知的赔付方式 %(method)s（可用：%(allowed)s）")
                % {"method": str(method)[:32], "allowed": ", ".join(METHODS)},
                field=f"{where}.methods[{i}]",
            )
        if method not in seen:
            seen.append(method)
    return RuleData(
        name=name.strip(),
        name_en=name_en.strip(),
        conditions=cond.to_json(parsed),
        methods=tuple(seen),
        amount_rule=validate_amount_rule(raw.get("amount_rule"), f"{where}.amount_rule"),
    )


def validate_amount_rule(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(_("请填写金额规则"), field=where)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise InvalidInput(
            _("未知的金额规则 %(kind)s（可用：%(allowed)s）")
            % {"kind": str(kind)[:32], "allowed": ", ".join(KINDS)},
            field=f"{where}.kind",
        )
    allowed = {
        "fixed": {"amount"},
        "percent": {"percent", "min", "cap"},
        "range": {"min", "max"},
        "case_by_case": {"cap"},
    }[kind]
    given = {k for k, v in raw.items() if k != "kind" and v not in (None, "")}
    extra = given - allowed
    if extra:
        key = sorted(extra)[0]
        raise InvalidInput(
            _("金额规则 %(kind)s 不需要 %(key)s") % {"kind": kind, "key": key},
            field=f"{where}.{key}",
        )

    def need(key: str) -> Any:
        if key not in given:
            raise InvalidInput(_("请填写 %(key)s") % {"key": key}, field=f"{where}.{key}")
        return raw[key]

    out: dict[str, Any] = {"kind": kind}
    if kind == "fixed":
        out["amount"] = str(money(need("amount"), f"{where}.amount", allow_zero=False))
    elif kind == "percent":
        out["percent"] = f"{_percent(need('percent'), f'{where}.percent').normalize():f}"
        if "min" in given:
            out["min"] = str(money(raw["min"], f"{where}.min"))
        if "cap" in given:
            out["cap"] = str(money(raw["cap"], f"{where}.cap", allow_zero=False))
        if "min" in out and "cap" in out and Decimal(out["cap"]) < Decimal(out["min"]):
            raise InvalidInput(_("上限不能低于下限"), field=f"{where}.cap")
    elif kind == "range":
        low = money(need("min"), f"{where}.min")
        high = money(need("max"), f"{where}.max", allow_zero=False)
        if high < low:
            raise InvalidInput(_("上限不能低于下限"), field=f"{where}.max")
        out["min"], out["max"] = str(low), str(high)
    else:
        out["cap"] = str(money(need("cap"), f"{where}.cap", allow_zero=False))
    return out


def validate_rules(raw: Any) -> list[RuleData]:
    if not isinstance(raw, list):
        raise InvalidInput(_("rules 需要一个列表"), field="rules")
    if not raw:
        raise InvalidInput(_("赔付标准至少需要一行"), field="rules")
    if len(raw) > MAX_RULES:
        raise InvalidInput(_("最多 %(n)d 行") % {"n": MAX_RULES}, field="rules")
    return [validate_rule(row, f"rules[{i}]") for i, row in enumerate(raw)]


# -- versions -------------------------------------------------------------------------------


def current_version(session: Session) -> StandardVersion:
    """The highest-numbered version (404 when no standard was ever published)."""
    version = session.scalar(
        select(StandardVersion).order_by(StandardVersion.number.desc()).limit(1)
    )
    if version is None:
        raise NotFound(_("还没有赔付标准"))
    return version


def get_version(session: Session, number: int) -> StandardVersion:
    version = session.scalar(select(StandardVersion).where(StandardVersion.number == number))
    if version is None:
        raise NotFound(_("没有第 %(n)d 版赔付标准") % {"n": number}, field="version")
    return version


def rules_of(session: Session, version: StandardVersion) -> list[StandardRule]:
    return list(
        session.scalars(
            select(StandardRule)
            .where(StandardRule.version_id == version.id)
            .order_by(StandardRule.position)
        )
    )


def versions(session: Session, limit: int = 100) -> list[tuple[StandardVersion, int]]:
    """Newest first, each with its number of rows."""
    counts = (
        select(StandardRule.version_id, func.count().label("n"))
        .group_by(StandardRule.version_id)
        .subquery()
    )
    rows = session.execute(
        select(StandardVersion, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.version_id == StandardVersion.id)
        .order_by(StandardVersion.number.desc())
        .limit(limit)
    )
    return [(v, int(n)) for v, n in rows]


def publish(
    session: Session,
    clock: Clock,
    actor: Actor,
    rules: Sequence[RuleData],
    *,
    base_version: int | None,
    note: str = "",
) -> StandardVersion:
    """Writes ``rules`` as a new version (number = current + 1). ``base_version`` is the
    version the editor started from: anything but the current one is a 409 (nothing written).
    ``None`` is accepted only while no version exists."""
    latest = session.scalar(select(func.max(StandardVersion.number)))
    if latest is not None and base_version != latest:
        raise StaleVersion(
            _("赔付标准已更新为第 %(n)d 版，请刷新后再编辑") % {"n": latest},
            field="base_version",
        )
    number = (latest or 0) + 1
    version = StandardVersion(
        number=number,
        created_at=clock.now(),
        created_by=(actor.user.username if actor.user else actor.label)[:128],
        note=note[:2000],
    )
    session.add(version)
    try:
        session.flush()  # the unique number: a concurrent publication of the same base fails
    except IntegrityError:
        raise StaleVersion(
            _("赔付标准刚被他人更新，请刷新后再编辑"), field="base_version"
        ) from None
    for position, rule in enumerate(rules, start=1):
        session.add(
            StandardRule(
                version_id=version.id,
                position=position,
                name=rule.name,
                name_en=rule.name_en,
                conditions=rule.conditions,
                methods=list(rule.methods),
                amount_rule=rule.amount_rule,
            )
        )
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "compensation.standards.publish",
        "compensation_standard_version",
        version.id,
        {"number": number, "base_version": base_version, "rules": len(rules)},
    )
    return version


def rule_to_json(rule: StandardRule, locale: str | None = None) -> dict[str, Any]:
    return {
        "id": rule.id,
        "position": rule.position,
        "name": rule.name,
        "name_en": rule.name_en,
        "conditions": rule.conditions or {},
        "methods": list(rule.methods or []),
        "amount_rule": dict(rule.amount_rule or {}),
        "words": rule_in_words(rule, locale or i18n.current_locale()),
    }


def version_to_json(version: StandardVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
        "note": version.note,
    }


# -- seed -----------------------------------------------------------------------------------


def seed(session: Session, clock: Clock) -> list[str]:
    """Version 1 from ``data/standards.toml`` when no version exists (an admin's versions stay)."""
    if session.scalar(select(StandardVersion.id).limit(1)) is not None:
        return []
    with DATA_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    rules = validate_rules(data["rule"])
    publish(
        session,
        clock,
        Actor("system", None, "系统"),
        rules,
        base_version=None,
        note=data.get("note", ""),
    )
    return ["compensation_standards"]


# -- words ----------------------------------------------------------------------------------


@contextmanager
def in_locale(locale: str | None) -> Iterator[None]:
    """Translate in ``locale`` inside (a notice for the customer, whatever the request's)."""
    token = i18n._current.set(i18n.normalize(locale) or i18n.DEFAULT_LOCALE)
    try:
        yield
    finally:
        i18n._current.reset(token)


def yuan(amount: Decimal) -> str:
    return _("%(amount)s 元") % {"amount": f"{amount:.2f}"}


def method_label(code: str) -> str:
    return _(METHODS.get(code, code))


def rule_name(rule: StandardRule, locale: str | None = None) -> str:
    if (locale or i18n.current_locale()) == "en" and rule.name_en:
        return rule.name_en
    return rule.name


def amount_rule_in_words(amount_rule: Mapping[str, Any]) -> str:
    """The amount rule as a sentence in the current language."""
    kind = amount_rule.get("kind")
    if kind == "fixed":
        return _("固定 %(amount)s") % {"amount": yuan(Decimal(amount_rule["amount"]))}
    if kind == "range":
        return _("%(low)s 至 %(high)s（上限）") % {
            "low": yuan(Decimal(amount_rule["min"])),
            "high": yuan(Decimal(amount_rule["max"])),
        }
    if kind == "case_by_case":
        return _("按具体情况确定，最高 %(cap)s") % {"cap": yuan(Decimal(amount_rule["cap"]))}
    if kind == "percent":
        text = _("订单金额的 %(percent)s%%") % {"percent": amount_rule["percent"]}
        if amount_rule.get("min") is not None:
            text += _("，最低 %(low)s") % {"low": yuan(Decimal(amount_rule["min"]))}
        if amount_rule.get("cap") is not None:
            text += _("，最高 %(cap)s") % {"cap": yuan(Decimal(amount_rule["cap"]))}
        return text
    return str(kind)


def methods_in_words(methods: Sequence[str]) -> str:
    labels = [method_label(m) for m in methods]
    if len(labels) <= 1:
        return "".join(labels)
    return _("%(first)s或%(rest)s（客户可选）") % {
        "first": _("、").join(labels[:-1]),
        "rest": labels[-1],
    }


def rule_in_words(rule: StandardRule, locale: str) -> str:
    """The plain-words rule, e.g. "产品质量问题：退款或换货（客户可选），订单金额的 100%"."""
    with in_locale(locale):
        return _("%(name)s：%(methods)s，%(amount)s") % {
            "name": rule_name(rule, locale),
            "methods": methods_in_words(rule.methods or []),
            "amount": amount_rule_in_words(rule.amount_rule or {}),
        }


def principles() -> list[dict[str, str]]:
    """The principles, translated into the current language."""
    return [{"code": code, "name": _(name), "text": _(text)} for code, name, text in PRINCIPLES]
