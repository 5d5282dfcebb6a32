"""The KPI API at 10,000 … 1,000,000 complaints (not a timed test).

Runs, in process through the whole HTTP stack (FastAPI TestClient, a manager's token, then a
team lead's), a mix of analytics requests over a database made by ``kesu demo --complaints
N`` (its rollups rebuilt if empty), and prints p50/p95 per request kind — wall time, and
the process's CPU time (on a shared machine the wall time measures the neighbours too; the
CPU time is the request's own cost):

- ``kpis30``: ``GET /api/v1/analytics/kpis`` for the last 30 days, no filter
- ``kpis90_team``: 90 days, a team (what a team lead gets)
- ``kpis30_cat_channel``: 30 days, a level-1 category and a channel
- ``kpis30_region_product``: 30 days, a region and a product (the complaint rate's filters)
- ``series_day_cat``: 90 days by day grouped by category
- ``series_week_handler``: 180 days by week grouped by handler
- ``rate_product``: the complaint rate by product, 180 days

``--synthetic N`` instead fills the rollups of a copy of the database with N facts resampled
from its own facts (the real joint distribution of category, channel, region, team, handler
and product; the days spread over the last 180), written with the same upsert as the worker:
the KPI queries read only the rollups, so this measures them at N complaints without
generating N complaints. Say which one you ran.

Usage:
  python benchmarks/analytics_bench.py --db /tmp/kpi-bench/10k.db [--requests 100]
  python benchmarks/analytics_bench.py --db /tmp/kpi-bench/10k.db --synthetic 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select  # noqa: E402

from kesu.accounts import service as accounts  # noqa: E402
from kesu.accounts.models import Team, User  # noqa: E402
from kesu.analytics import facts as F  # noqa: E402
from kesu.analytics import rollups  # noqa: E402
from kesu.analytics.models import Fact, Rollup  # noqa: E402
from kesu.clock import SystemClock  # noqa: E402
from kesu.config import Settings  # noqa: E402
from kesu.db import Database  # noqa: E402
from kesu.taxonomy.models import Category  # noqa: E402


def synthetic(db: Database, n: int, seed: int = 7) -> None:
    """Replaces the rollups with those of ``n`` facts resampled from the stored ones."""
    import numpy as np

    clock = SystemClock()
    with db.session(write=False) as session:
        rows = session.execute(select(Fact.dims, Fact.measures)).all()
    if not rows:
        raise SystemExit("no facts: run `kesu analytics rebuild` first")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(rows), n)
    today = F.local_day(clock.now())
    days = [today - timedelta(days=int(d)) for d in range(180)]
    day_index = rng.integers(0, 180, n)
    measures = np.array([r.measures for r in rows], dtype=np.int64)[pick]
    dims = [tuple(r.dims) for r in rows]
    started = time.perf_counter()
    with db.session() as session:
        present = set(session.scalars(select(Rollup.cube).distinct()))
        if present - set(range(len(rollups.CUBES))):
            session.execute(delete(Rollup))
            present = set()
        for cube_index, cube in enumerate(rollups.CUBES):
            if cube_index in present:  # kept from an earlier run (same seed, same facts)
                continue
            keep = [i for i, name in enumerate(F.DIMS) if name in cube]
            blank = tuple(0 if name in F.INT_DIMS else "" for name in F.DIMS)
            proto: dict[tuple[Any, ...], int] = {}
            codes = np.empty(len(rows), dtype=np.int64)
            for i, d in enumerate(dims):
                key = tuple(d[j] if j in keep else blank[j] for j in range(len(F.DIMS)))
                codes[i] = proto.setdefault(key, len(proto))
            keys = codes[pick] * 180 + day_index
            unique, inverse = np.unique(keys, return_inverse=True)
            sums = np.zeros((len(unique), measures.shape[1]), dtype=np.int64)
            np.add.at(sums, inverse, measures)
            by_code = {v: k for k, v in proto.items()}
            out: dict[tuple[Any, ...], list[int]] = {}
            for key, values in zip(unique.tolist(), sums.tolist(), strict=True):
                dim_key = by_code[key // 180]
                out[(cube_index, days[key % 180], *dim_key)] = values
            rollups._write(session, out)
            print(f"cube {cube_index} {cube}: {len(out)} rows", flush=True)
    print(f"synthetic rollups of {n} facts written in {time.perf_counter() - started:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--synthetic", type=int, default=0)
    args = parser.parse_args()
    path = Path(args.db)
    if args.synthetic:
        copy = path.with_name(f"{path.stem}-synthetic-{args.synthetic}.db")
        if not copy.exists():
            shutil.copy(path, copy)
            with Database(f"sqlite:///{copy}").session() as session:  # the real cubes out
                session.execute(delete(Rollup))
                session.commit()
        synthetic(Database(f"sqlite:///{copy}"), args.synthetic)  # the cubes not there yet
        path = copy
    url = f"sqlite:///{path}"
    db = Database(url)
    clock = SystemClock()
    with db.session() as session:
        if session.scalar(select(func.count()).select_from(Rollup)) == 0:
            print("rebuilding the rollups …", flush=True)
            started = time.perf_counter()
            made = rollups.rebuild(db, clock)
            print(f"rebuilt {made} facts in {time.perf_counter() - started:.1f}s")
    with db.session() as session:
        facts = session.scalar(select(func.count()).select_from(Fact))
        rollup_rows = session.scalar(select(func.count()).select_from(Rollup))
        teams = list(session.scalars(select(Team.id)))
        top = list(session.scalars(select(Category.id).where(Category.level == 1)))
        manager = session.scalar(select(User).where(User.role == "manager").limit(1))
        lead = session.scalar(
            select(User).where(User.role == "team_lead", User.team_id.is_not(None)).limit(1)
        )
        assert manager is not None and lead is not None
        tokens = {
            "manager": accounts.create_token(session, clock, accounts.SYSTEM, manager),
            "lead": accounts.create_token(session, clock, accounts.SYSTEM, lead),
        }
        regions = [r for (r,) in session.execute(select(Rollup.region).distinct().limit(50)) if r]
        products = [p for (p,) in session.execute(select(Rollup.product).distinct().limit(50)) if p]
    print(f"{facts} facts, {rollup_rows} rollup rows; load average {os.getloadavg()}")

    from fastapi.testclient import TestClient

    from kesu.web.app import create_app

    settings = Settings(database_url=url, environment="development")
    app = create_app(settings, clock=clock, db=db)
    today = F.local_day(clock.now()) + timedelta(days=1)

    def since(days: int) -> str:
        return f"from={today - timedelta(days=days)}&to={today}"

    rng = random.Random(1)
    kinds = {
        "kpis30": lambda: f"/api/v1/analytics/kpis?{since(30)}",
        "kpis90_team": lambda: f"/api/v1/analytics/kpis?{since(90)}&team={rng.choice(teams)}",
        "kpis30_cat_channel": lambda: (
            f"/api/v1/analytics/kpis?{since(30)}&category={rng.choice(top)}&channel=phone"
        ),
        "kpis30_region_product": lambda: (
            f"/api/v1/analytics/kpis?{since(30)}&region={rng.choice(regions)}"
            f"&product={rng.choice(products)}"
        ),
        "series_day_cat": lambda: (
            f"/api/v1/analytics/series?{since(90)}&metric=resolution_rate&by=day&group=category"
        ),
        "series_week_handler": lambda: (
            f"/api/v1/analytics/series?{since(180)}&metric=complaints&by=week&group=handler"
        ),
        "rate_product": lambda: f"/api/v1/analytics/complaint-rate?{since(180)}&by=product",
        "lead_kpis30": lambda: f"/api/v1/analytics/kpis?{since(30)}",
    }
    with TestClient(app) as client:
        for name, make in kinds.items():
            who = "lead" if name.startswith("lead") else "manager"
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            for _ in range(5):  # warm-up
                assert client.get(make(), headers=headers).status_code == 200
            times, cpu = [], []
            for _ in range(args.requests):
                url_ = make()
                started, started_cpu = time.perf_counter(), time.process_time()
                answer = client.get(url_, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
                assert answer.status_code == 200, answer.text
            times.sort()
            cpu.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            cpu95 = cpu[max(0, int(len(cpu) * 0.95) - 1)]
            print(
                f"{name:24s} wall p50 {statistics.median(times):7.1f} p95 {p95:7.1f} ms | "
                f"cpu p50 {statistics.median(cpu):6.1f} p95 {cpu95:6.1f} ms"
            )


if __name__ == "__main__":
    main()
