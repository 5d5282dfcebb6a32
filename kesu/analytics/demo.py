"""Demo analytics: rebuild the rollups over the bulk-inserted complaints (they did not go
through the services), then business volumes imported from a CSV made for them, so the
complaint rate shows (some 5–30 complaints per 10,000 orders, per product and region)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select

from kesu.analytics import rollups, volumes
from kesu.analytics.models import Rollup
from kesu.clock import Clock


def show(db: Any, clock: Clock, seed: int = 2026) -> int:
    """Rebuilds the rollups and imports the demo volumes; returns the volume rows stored."""
    rollups.rebuild(db, clock)
    cube = rollups.CUBES.index(("region", "product"))
    counts: dict[tuple[date, str, str], int] = defaultdict(int)
    with db.session(write=False) as session:
        for day, region, product, n in session.execute(
            select(
                Rollup.day, Rollup.region, Rollup.product, func.sum(Rollup.__table__.c.complaints)
            )
            .where(Rollup.cube == cube, Rollup.product != "")
            .group_by(Rollup.day, Rollup.region, Rollup.product)
        ):
            counts[(day.replace(day=1), region, product)] += int(n or 0)
    rng = random.Random(seed)
    lines = ["期间,产品线,地区,订单量"]
    for (month, region, product), n in sorted(counts.items()):
        orders = int(n * rng.uniform(400, 2000)) + rng.randrange(200, 2000)
        lines.append(f"{month:%Y-%m},{product},{region},{orders}")
    if len(lines) == 1:
        return 0
    rows = volumes.read_csv("\n".join(lines).encode())
    with db.session() as session:
        return volumes.store(session, clock, rows, "demo", "demo")
