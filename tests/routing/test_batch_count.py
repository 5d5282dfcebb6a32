"""The batch rule's count stops at ``count_cap``: the condition's answer never changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kesu.routing import conditions
from kesu.routing.conditions import Leaf
from kesu.routing.facts import count_cap

NUMBER = st.one_of(st.integers(-3, 40), st.floats(-3, 40, allow_nan=False))
OPS_ONE = st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"])


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    kind = draw(st.sampled_from(["one", "list", "between"]))
    if kind == "one":
        return Leaf("same_category_count", draw(OPS_ONE), draw(NUMBER))
    if kind == "list":
        op = draw(st.sampled_from(["in", "not_in"]))
        return Leaf("same_category_count", op, draw(st.lists(NUMBER, min_size=1, max_size=4)))
    low, high = sorted(draw(st.lists(NUMBER, min_size=2, max_size=2)))
    return Leaf("same_category_count", "between", [low, high])


class _Facts:
    def __init__(self, count: int) -> None:
        self.count = count

    def get(self, field: str, leaf: Leaf) -> int:
        return self.count


@given(leaves(), st.integers(0, 200))
def test_a_capped_count_gives_the_same_answer(leaf: Leaf, count: int) -> None:
    cap = count_cap(leaf)
    assert cap is not None
    capped = min(count, cap)
    assert conditions.matches(leaf, _Facts(capped)) == conditions.matches(leaf, _Facts(count))


def test_no_cap_for_what_is_not_a_number() -> None:
    assert count_cap(Leaf("same_category_count", "is_empty")) is None
    assert count_cap(Leaf("same_category_count", "gt", "5")) is None
    assert count_cap(Leaf("same_category_count", "gt", 5)) == 6
