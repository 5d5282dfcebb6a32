"""The demo part of the standards: version 2 published over the seed, complaints at 方案制定
with a recommendation under it (the whole `kesu demo` runs in tests/test_demo_alive.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kesu.compensation import standards, standards_demo
from kesu.compensation.recommend import recommend
from kesu.complaints.models import Complaint


def test_the_demo_shows_the_standards_alive(db: Any, clock: Any) -> None:
    assert standards_demo.show(db, clock) == 3
    with db.session() as session:
        assert standards.current_version(session).number == 2
        made = list(session.scalars(select(Complaint).where(Complaint.stage == "proposing")))
        recs = {c.category.path.split("/")[0]: recommend(session, c) for c in made}
        assert recs["产品质量"].amount == Decimal("1299.00")
        assert recs["物流服务"].amount == Decimal("45.80")  # VIP: 10 % of 458.00
        assert recs["账务"].case_by_case and recs["账务"].amount_max == Decimal("500.00")
        assert {r.standard_version for r in recs.values()} == {2}
