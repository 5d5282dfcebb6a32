"""The recommendation: the first matching row, exact decimal amounts, the same facts the same
answer, and a new standard version leaves what was recorded under the old one alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from kesu.accounts.service import SYSTEM
from kesu.compensation import standards
from kesu.compensation.models import CompensationRequest, StandardRule
from kesu.compensation.recommend import Choice, recommend
from kesu.complaints.models import Complaint
from kesu.errors import InvalidInput
from kesu.web.i18n import use_locale  # noqa: F401  (the locale is set per test below)
from tests.compensation.std_helpers import complaint

D = Decimal


# -- amount rules: pure logic, one run ------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "order_value", "amount", "amount_max", "case_by_case"),
    [
        ({"kind": "fixed", "amount": "20.00"}, None, "20.00", None, False),
        ({"kind": "fixed", "amount": "20.00"}, D("999.99"), "20.00", None, False),
        ({"kind": "percent", "percent": "33.33"}, D("99.99"), "33.33", None, False),
        ({"kind": "percent", "percent": "100"}, D("199.90"), "199.90", None, False),
        ({"kind": "percent", "percent": "12.5"}, D("0.20"), "0.03", None, False),  # 0.025 half up
        ({"kind": "percent", "percent": "12.5"}, D("0.12"), "0.02", None, False),  # 0.015 half up
        (
            {"kind": "percent", "percent": "5", "min": "5.00", "cap": "50.00"},
            D("40"),
            "5.00",
            None,
            False,
        ),
        (
            {"kind": "percent", "percent": "5", "min": "5.00", "cap": "50.00"},
            D("399.90"),
            "20.00",
            None,
            False,
        ),
        (
            {"kind": "percent", "percent": "5", "min": "5.00", "cap": "50.00"},
            D("5000"),
            "50.00",
            None,
            False,
        ),
        ({"kind": "percent", "percent": "10", "cap": "100.00"}, None, "0.00", "100.00", True),
        ({"kind": "range", "min": "10.00", "max": "30.00"}, D("1"), "10.00", "30.00", False),
        ({"kind": "case_by_case", "cap": "500.00"}, D("88"), "0.00", "500.00", True),
    ],
)
def test_each_amount_rule_gives_an_exact_decimal(
    rule: dict[str, Any],
    order_value: Decimal | None,
    amount: str,
    amount_max: str | None,
    case_by_case: bool,
) -> None:
    checked = standards.validate_amount_rule(rule, "amount_rule")
    result = standards.compute(checked, order_value)
    assert isinstance(result.amount, Decimal)
    assert result.amount == D(amount) and str(result.amount) == amount
    assert result.amount_max == (D(amount_max) if amount_max else None)
    assert result.case_by_case is case_by_case


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "gift"}, "x.kind"),
        ({"kind": "fixed"}, "x.amount"),
        ({"kind": "fixed", "amount": "-1"}, "x.amount"),
        ({"kind": "fixed", "amount": "0"}, "x.amount"),
        ({"kind": "fixed", "amount": "1.005"}, "x.amount"),
        ({"kind": "fixed", "amount": "99999999"}, "x.amount"),
        ({"kind": "fixed", "amount": "NaN"}, "x.amount"),
        ({"kind": "fixed", "amount": "Infinity"}, "x.amount"),
        ({"kind": "fixed", "amount": "二十"}, "x.amount"),
        ({"kind": "fixed", "amount": True}, "x.amount"),
        ({"kind": "fixed", "amount": "20", "cap": "30"}, "x.cap"),
        ({"kind": "percent", "percent": "100.01"}, "x.percent"),
        ({"kind": "percent", "percent": "0"}, "x.percent"),
        ({"kind": "percent", "percent": "5", "min": "60", "cap": "50"}, "x.cap"),
        ({"kind": "range", "min": "30", "max": "10"}, "x.max"),
        ({"kind": "range", "min": "10"}, "x.max"),
        ({"kind": "case_by_case"}, "x.cap"),
    ],
)
def test_a_bad_amount_rule_is_refused_naming_the_field(rule: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        standards.validate_amount_rule(rule, "x")
    assert caught.value.field == field


def test_a_bad_row_names_its_field() -> None:
    good = {"name": "x", "methods": ["cash"], "amount_rule": {"kind": "fixed", "amount": "5"}}
    cases = [
        ({**good, "methods": ["gold"]}, "rules[1].methods[0]"),
        ({**good, "methods": []}, "rules[1].methods"),
        (
            {**good, "conditions": {"field": "nope", "op": "eq", "value": 1}},
            "rules[1].conditions.field",
        ),
        (
            {**good, "conditions": {"field": "order_value", "op": "gte", "value": "x"}},
            "rules[1].conditions.value",
        ),
        ({**good, "name": ""}, "rules[1].name"),
    ]
    for row, field in cases:
        with pytest.raises(InvalidInput) as caught:
            standards.validate_rules([good, row])
        assert caught.value.field == field, row


def test_the_seed_file_is_a_valid_matrix() -> None:
    import tomllib

    with standards.DATA_FILE.open("rb") as handle:
        rows = standards.validate_rules(tomllib.load(handle)["rule"])
    kinds = {r.amount_rule["kind"] for r in rows}
    assert kinds == {"fixed", "percent", "range", "case_by_case"}
    assert any(len(r.methods) > 1 for r in rows)  # the customer chooses


# -- on a database --------------------------------------------------------------------------


def _recommend(db: Any, complaint_id: int, **kwargs: Any) -> Any:
    with db.session() as session:
        found = session.get(Complaint, complaint_id)
        return recommend(session, found, **kwargs)


def test_product_quality_is_a_full_refund_or_a_replacement(db: Any, clock: Any) -> None:
    cid = complaint(db, clock, category="产品质量/功能故障/无法开机", order_value="199.90")
    rec = _recommend(db, cid)
    assert rec is not None and rec.standard_version == 1
    assert (rec.method, rec.amount, rec.currency) == ("refund", D("199.90"), "CNY")
    assert rec.choices == (
        Choice("refund", D("199.90"), None),
        Choice("replacement", D("199.90"), None),
    )
    assert rec.amount_max is None and rec.case_by_case is False
    assert "产品质量" in rec.why and "199.90 元" in rec.why


def test_the_first_matching_row_wins(db: Any, clock: Any) -> None:
    """A VIP's late delivery matches the VIP row (10 %, min 10) before the general one (5 %)."""
    vip = complaint(
        db,
        clock,
        category="物流服务/配送延误/超时未送达",
        order_value="399.90",
        tier="vip",
        phone="13900000001",
    )
    plain = complaint(
        db,
        clock,
        category="物流服务/配送延误/超时未送达",
        order_value="399.90",
        phone="13900000002",
    )
    assert _recommend(db, vip).amount == D("39.99")
    assert _recommend(db, plain).amount == D("20.00")
    assert _recommend(db, vip).method == "cash"


def test_two_complaints_with_the_same_facts_get_the_same_recommendation(
    db: Any, clock: Any
) -> None:
    facts = {
        "category": "物流服务/延迟发货/超时未发货",
        "order_value": "88.88",
        "product": "电水壶",
    }
    first = complaint(db, clock, content="订单一直没有发货。", **facts)
    clock.advance(timedelta(hours=5))
    second = complaint(db, clock, content="下单三天了还没发货，太慢了。", **facts)
    a, b = _recommend(db, first), _recommend(db, second)
    assert a is not None and a == b
    assert a.amount == D("5.00")  # 5 % of 88.88 = 4.44, the minimum 5.00


def test_case_by_case_with_a_cap_and_no_rule(db: Any, clock: Any) -> None:
    billing = complaint(db, clock, category="账务/扣费异常/重复扣费")
    rec = _recommend(db, billing)
    assert rec is not None and rec.case_by_case and rec.amount == D("0.00")
    assert rec.amount_max == D("500.00")
    assert [c.method for c in rec.choices] == ["refund", "cash", "coupon"]
    missing = complaint(db, clock, category="产品质量/异物/生产异物")  # no order value
    rec = _recommend(db, missing)
    assert rec is not None and rec.case_by_case and rec.amount == D("0.00")
    assert "订单金额未填写" in rec.why
    assert _recommend(db, complaint(db, clock)) is None  # no category: no row applies


def test_repeat_and_severity_conditions(db: Any, clock: Any) -> None:
    attitude = {"category": "服务态度/客服态度/推诿敷衍"}
    first = complaint(db, clock, content="客服一直推诿，不给解决。", order_no="SO-77", **attitude)
    assert _recommend(db, first).amount == D("20.00")
    again = complaint(
        db, clock, content="客服一直推诿，还是不给解决。", order_no="SO-77", **attitude
    )
    with db.session() as session:
        assert session.get(Complaint, again).repeat_of_id == first
    assert _recommend(db, again).amount == D("50.00")
    critical = complaint(
        db, clock, category="产品质量/功能故障/发热异常", severity="critical", order_value="20"
    )
    assert _recommend(db, critical).amount == D("50.00")  # 100 %, at least 50


def test_why_is_in_the_callers_language(db: Any, clock: Any) -> None:
    from kesu.compensation.standards import in_locale

    cid = complaint(db, clock, category="物流服务/配送延误/物流停滞", order_value="100")
    with in_locale("en"):
        rec = _recommend(db, cid)
        with db.session() as session:
            words = standards.rule_in_words(session.get(StandardRule, rec.rule_id), "en")
    assert rec.rule_name == "Late delivery: cash compensation"
    assert "Logistics / Late delivery" in rec.why and "5.00" in rec.why
    assert "Cash compensation" in words and "%" in words
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in rec.why + words)
    zh = _recommend(db, cid)
    assert "物流服务/配送延误" in zh.why


def test_a_new_version_does_not_change_what_was_recorded_under_the_old(db: Any, clock: Any) -> None:
    cid = complaint(db, clock, category="物流服务/配送延误/超时未送达", order_value="300")
    before = _recommend(db, cid)
    assert before.standard_version == 1 and before.amount == D("15.00")
    with db.session() as session:  # a request made under version 1 (flow writes these)
        session.add(
            CompensationRequest(
                complaint_id=cid,
                rule_id=before.rule_id,
                standard_version=before.standard_version,
                method=before.method,
                amount=before.amount,
                status="approved",
                created_at=clock.now(),
            )
        )
        version = standards.current_version(session)
        rows = [
            standards.validate_rule(
                {
                    "name": r.name,
                    "conditions": r.conditions,
                    "methods": r.methods,
                    "amount_rule": (
                        {"kind": "fixed", "amount": "30.00"}
                        if r.id == before.rule_id
                        else r.amount_rule
                    ),
                },
                "r",
            )
            for r in standards.rules_of(session, version)
        ]
        standards.publish(session, clock, SYSTEM, rows, base_version=1)
        session.commit()
    after = _recommend(db, cid)
    assert after.standard_version == 2 and after.amount == D("30.00")
    assert _recommend(db, cid, version=1) == before  # the old version reads as it was
    with db.session() as session:
        request = session.query(CompensationRequest).one()
        rule = session.get(StandardRule, request.rule_id)
        assert request.standard_version == 1 and request.amount == D("15.00")
        assert rule.amount_rule == {
            "kind": "percent",
            "percent": "5",
            "min": "5.00",
            "cap": "50.00",
        }
    assert replace(before, standard_version=2) != after


def test_later_complaints_do_not_change_an_earlier_answer(db: Any, clock: Any) -> None:
    """A row on the same-category count sees the count at the complaint's receipt."""
    from kesu.compensation.models import StandardVersion

    with db.session() as session:
        version = session.query(StandardVersion).one()
        rows = standards.validate_rules(
            [
                {
                    "name": "批量问题",
                    "conditions": {"field": "same_category_count", "op": "gte", "value": 2},
                    "methods": ["coupon"],
                    "amount_rule": {"kind": "fixed", "amount": "10"},
                }
            ]
        )
        standards.publish(session, clock, SYSTEM, rows, base_version=version.number)
        session.commit()
    facts = {"category": "物流服务/配送延误/物流停滞"}
    first = complaint(db, clock, content="物流三天没动了。", phone="13900000011", **facts)
    assert _recommend(db, first) is None
    clock.advance(timedelta(minutes=5))
    second = complaint(db, clock, content="快递一直不更新。", phone="13900000012", **facts)
    assert _recommend(db, second).amount == D("10.00")
    assert _recommend(db, first) is None  # still: the second came later
