"""The condition language: validation names the bad node; evaluation is a small interpreter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from kesu.errors import InvalidInput
from kesu.routing.conditions import Leaf, matches, parse, to_json


@dataclass
class Facts:
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, leaf: Leaf) -> Any:
        return self.values.get(name)


FACTS = Facts(
    {
        "category": "账务/扣费异常/重复扣费",
        "severity": "moderate",
        "priority": 2,
        "tier": "VIP",
        "region": "广州",
        "text": "我要去315投诉，还要找媒体曝光",
        "tags": ["VIP", "risk:2"],
        "risk": True,
        "time": "22:30",
        "date": "2026-03-15",
        "month_day": "03-15",
        "custom.store": "天猫旗舰店",
        "same_category_count": 6,
    }
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({}, True),
        ({"all": []}, True),
        ({"any": []}, False),
        ({"field": "category", "op": "under", "value": "账务"}, True),
        ({"field": "category", "op": "under", "value": "账"}, False),  # whole segments only
        ({"field": "category", "op": "under", "value": ["物流服务", "账务/扣费异常"]}, True),
        ({"field": "category", "op": "not_under", "value": "物流服务"}, True),
        ({"field": "severity", "op": "gte", "value": "moderate"}, True),
        ({"field": "severity", "op": "gt", "value": "moderate"}, False),
        ({"field": "tier", "op": "in", "value": ["vip", "key"]}, True),  # case-insensitive
        ({"field": "text", "op": "contains_any", "value": ["律师", "媒体"]}, True),
        ({"field": "text", "op": "contains_all", "value": ["律师", "媒体"]}, False),
        ({"field": "tags", "op": "contains", "value": "risk:2"}, True),
        ({"field": "risk", "op": "is_true"}, True),
        ({"field": "region", "op": "is_empty"}, False),
        ({"field": "product", "op": "is_empty"}, True),
        ({"field": "product", "op": "ne", "value": "耳机"}, True),  # missing ≠ anything
        ({"field": "time", "op": "between", "value": ["22:00", "06:00"]}, True),  # overnight
        ({"field": "time", "op": "between", "value": ["09:00", "18:00"]}, False),
        ({"field": "month_day", "op": "between", "value": ["03-08", "03-22"]}, True),
        ({"field": "month_day", "op": "between", "value": ["12-20", "01-10"]}, False),
        ({"field": "date", "op": "gte", "value": "2026-03-01"}, True),
        ({"field": "custom.store", "op": "contains", "value": "天猫"}, True),
        ({"field": "same_category_count", "window_hours": 24, "op": "gt", "value": 5}, True),
        ({"not": {"field": "priority", "op": "eq", "value": 2}}, False),
        (
            {
                "all": [
                    {"field": "tier", "op": "eq", "value": "vip"},
                    {
                        "any": [
                            {"field": "region", "op": "eq", "value": "深圳"},
                            {"field": "risk", "op": "is_true"},
                        ]
                    },
                ]
            },
            True,
        ),
    ],
)
def test_evaluation(condition: dict[str, Any], expected: bool) -> None:
    assert matches(parse(condition), FACTS) is expected


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ([], "conditions"),
        ({"all": {}}, "conditions.all"),
        ({"all": [{"field": "nope", "op": "eq", "value": 1}]}, "conditions.all[0].field"),
        ({"any": [{}, {"field": "tier", "op": "gt", "value": "vip"}]}, "conditions.any[1].op"),
        ({"field": "priority", "op": "eq", "value": "high"}, "conditions.value"),
        ({"field": "severity", "op": "eq", "value": "huge"}, "conditions.value"),
        ({"field": "tier", "op": "in", "value": "vip"}, "conditions.value"),
        ({"field": "time", "op": "between", "value": ["9:00", "18:00"]}, "conditions.value"),
        ({"field": "risk", "op": "is_true", "value": True}, "conditions.value"),
        ({"field": "tier", "op": "eq", "value": [["vip"]]}, "conditions.value"),
        ({"field": "tier", "op": "in", "value": [["vip"]]}, "conditions.value"),
        ({"field": "tier", "op": "eq", "value": "vip", "x": 1}, "conditions.x"),
        (
            {"field": "same_category_count", "op": "gt", "value": 5, "window_hours": 0},
            "conditions.window_hours",
        ),
        ({"not": {"field": "tier", "op": "eq", "value": "vip"}, "all": []}, "conditions.not"),
        ({"field": "text", "op": "matches", "value": "__import__('os')"}, "conditions.op"),
    ],
)
def test_bad_conditions_name_the_node(condition: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse(condition)
    assert error.value.field == field


def test_round_trip() -> None:
    raw = {
        "all": [
            {"field": "tier", "op": "in", "value": ["vip", "key"]},
            {"not": {"field": "same_category_count", "op": "gt", "value": 5, "window_hours": 12}},
        ]
    }
    assert to_json(parse(raw)) == raw


def test_too_many_nodes_are_refused() -> None:
    leaf = {"field": "tier", "op": "eq", "value": "vip"}
    with pytest.raises(InvalidInput):
        parse({"any": [leaf] * 500})
