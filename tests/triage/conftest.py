"""Small labelled samples of the shared review corpus (CI has it beside the checkout)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REVIEWS = Path(__file__).parents[2].parent / "shared/data/reviews"


def read_rows(name: str) -> list[dict[str, str]]:
    path = REVIEWS / name
    if not path.is_file():
        pytest.skip(f"review corpus not found at {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def sample(
    rows: list[dict[str, str]], keys: str | tuple[str, ...], per_value: int, skip: int = 0
) -> list[dict[str, str]]:
    """The first `per_value` rows for each value of `keys`, after skipping `skip` of each."""
    columns = (keys,) if isinstance(keys, str) else keys
    seen: dict[tuple[str, ...], int] = {}
    picked = []
    for row in rows:
        value = tuple(row[column] for column in columns)
        n = seen.get(value, 0)
        seen[value] = n + 1
        if skip <= n < skip + per_value:
            picked.append(row)
    return picked


@pytest.fixture(scope="session")
def os10_rows() -> list[dict[str, str]]:
    return read_rows("os10_train.csv")


@pytest.fixture(scope="session")
def waimai_rows() -> list[dict[str, str]]:
    return read_rows("waimai_10k.csv")
