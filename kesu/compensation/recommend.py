"""The recommendation: the first row of the standard (by position) whose conditions hold for the
complaint, its methods and the amount its amount rule gives, explained in words.

Deterministic: the facts are the complaint's own fields, evaluated at the moment it was
received (``received_at``: time-of-day or date conditions and the same-category count do not
drift with the clock), the rows in position order, amounts computed with ``Decimal`` and
quantised to 0.01 half up. Two complaints with the same facts get the same recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.compensation import standards
from kesu.compensation.models import StandardRule, StandardVersion
from kesu.complaints.models import Complaint
from kesu.errors import NotFound
from kesu.routing import conditions as cond
from kesu.routing.facts import ComplaintFacts
from kesu.web import i18n
from kesu.web.i18n import gettext as _


@dataclass(frozen=True)
class Choice:
    """One method the customer may choose, with its amount (and a range's cap)."""

    method: str
    amount: Decimal
    amount_max: Decimal | None


@dataclass(frozen=True)
class Recommendation:
    method: str
    amount: Decimal
    currency: str
    rule_id: int
    rule_name: str
    standard_version: int  # StandardVersion.number
    why: str
    choices: tuple[Choice, ...]
    amount_max: Decimal | None  # the cap of a range / case by case: [0, amount_max] is in line
    case_by_case: bool


def recommend(
    session: Session, complaint: Complaint, *, version: int | None = None
) -> Recommendation | None:
    """The recommendation under the current standard (or version number ``version``, e.g. to
    show what a past request was measured against); None when no row applies or no standard
    exists."""
    try:
        standard = (
            standards.get_version(session, version)
            if version is not None
            else standards.current_version(session)
        )
    except NotFound:
        return None
    rules = standards.rules_of(session, standard)
    facts = _Facts(session, complaint, complaint.received_at, business_hours=None)
    for rule in rules:
        condition = cond.parse(rule.conditions or {}, "conditions")
        if cond.matches(condition, facts):
            return _build(session, complaint, standard, rule, condition)
    return None


class _Facts(ComplaintFacts):
    """The complaint's facts as they were when it was received: the same-category count is
    bounded above by ``received_at`` too, so later complaints do not change the answer."""

    def _same_category_count(self, leaf: cond.Leaf) -> int:
        category = self.complaint.category
        if category is None:
            return 0
        since = self.now - timedelta(hours=leaf.window_hours)
        return (
            self.session.scalar(
                select(func.count())
                .select_from(Complaint)
                .where(
                    Complaint.category_id == category.id,
                    Complaint.received_at >= since,
                    Complaint.received_at <= self.now,
                )
            )
            or 0
        )


def _build(
    session: Session,
    complaint: Complaint,
    standard: StandardVersion,
    rule: StandardRule,
    condition: cond.Condition,
) -> Recommendation:
    amount = standards.compute(rule.amount_rule, complaint.order_value)
    methods = list(rule.methods or []) or ["cash"]
    choices = tuple(Choice(m, amount.amount, amount.amount_max) for m in methods)
    name = standards.rule_name(rule)
    return Recommendation(
        method=methods[0],
        amount=amount.amount,
        currency=standards.CURRENCY,
        rule_id=rule.id,
        rule_name=name,
        standard_version=standard.number,
        why=_why(session, complaint, standard, rule, condition, amount),
        choices=choices,
        amount_max=amount.amount_max,
        case_by_case=amount.case_by_case,
    )


def _why(
    session: Session,
    complaint: Complaint,
    standard: StandardVersion,
    rule: StandardRule,
    condition: cond.Condition,
    amount: standards.Amount,
) -> str:
    from kesu.complaints import event_text

    ctx = event_text.context(session)
    parts = [
        _("按第 %(version)d 版赔付标准的「%(rule)s」")
        % {
            "version": standard.number,
            "rule": standards.rule_name(rule),
        }
    ]
    matched = condition_in_words(condition, ctx)
    parts.append(
        _("条件：%(conditions)s") % {"conditions": matched} if matched else _("适用于所有投诉")
    )
    parts.append(
        _("方式：%(methods)s") % {"methods": standards.methods_in_words(rule.methods or [])}
    )
    rule_text = standards.amount_rule_in_words(rule.amount_rule or {})
    if amount.order_value_missing:
        parts.append(
            _("金额：%(rule)s；订单金额未填写，由处理人按具体情况确定") % {"rule": rule_text}
        )
    elif amount.case_by_case:
        parts.append(_("金额：%(rule)s") % {"rule": rule_text})
    elif rule.amount_rule.get("kind") == "percent":
        parts.append(
            _("金额：%(rule)s，订单金额 %(value)s，即 %(amount)s")
            % {
                "rule": rule_text,
                "value": standards.yuan(Decimal(complaint.order_value or 0)),
                "amount": standards.yuan(amount.amount),
            }
        )
    else:
        parts.append(
            _("金额：%(rule)s，建议 %(amount)s")
            % {"rule": rule_text, "amount": standards.yuan(amount.amount)}
        )
    return _("；").join(parts) + _("。")


# -- conditions in words --------------------------------------------------------------------


def condition_in_words(condition: cond.Condition, ctx: Any = None) -> str:
    """A condition tree as a phrase in the current language ("" for "always")."""
    if isinstance(condition, cond.AllOf):
        items = [condition_in_words(c, ctx) for c in condition.items]
        return _("，且").join(i for i in items if i)
    if isinstance(condition, cond.AnyOf):
        items = [condition_in_words(c, ctx) for c in condition.items]
        return "（" + _("，或").join(i for i in items if i) + "）" if items else ""
    if isinstance(condition, cond.NotOf):
        return _("并非（%(inner)s）") % {"inner": condition_in_words(condition.item, ctx)}
    label = _(cond.FIELD_LABELS.get(condition.field, condition.field))
    op = _(cond.OP_LABELS.get(condition.op, condition.op))
    shape = cond.value_shape(condition.op)
    if shape == "none":
        return f"{label}{op}" if i18n.current_locale() != "en" else f"{label} {op}"
    values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
    shown = [_value_label(condition.field, v, ctx) for v in values]
    text = _(" 至 ").join(shown) if shape == "pair" else _("、").join(shown)
    if i18n.current_locale() == "en":
        return f"{label} {op} {text}"
    return f"{label}{op}{text}"


def _value_label(field: str, value: Any, ctx: Any) -> str:
    if field == "category" and ctx is not None:
        return str(ctx.category(value))
    if field == "order_value":
        return standards.yuan(Decimal(str(value)))
    options = cond._options(field)
    if options:
        for option in options:
            if option["value"] == str(value):
                return option["label"]
    return str(value)
