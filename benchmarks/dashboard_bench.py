"""The dashboard page (/dashboard) at scale: the whole page (KPI tiles, the trend, six
breakdowns, the complaint rate, top issues, the spike walk, the HTML), measured in-process
through the ASGI app on an existing database (e.g. `kesu demo --complaints N` followed by
`kesu analytics rebuild`).

Usage: KESU_DATABASE_URL=sqlite:///… python benchmarks/dashboard_bench.py [--repeat 20]
Prints p50 / p95 wall time in ms per URL, for the demo's manager and a team lead.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kesu.complaints.models import Complaint
from kesu.config import get_settings
from kesu.db import Database
from kesu.taxonomy.models import Category
from kesu.web.app import create_app
from tests.web.conftest import HTML, login

PASSWORD = "kesu-demo-2026"


def timed(client: TestClient, url: str, repeat: int) -> tuple[float, float, float, float]:
    """Wall p50/p95 and CPU p50/p95 (this process: the request's thread and the client's), in
    ms; on a loaded machine the CPU time is the figure that does not depend on the others."""
    assert client.get(url).status_code == 200, url  # warm: templates, caches
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, url
    wall.sort()
    cpu.sort()
    p95 = math.ceil(len(wall) * 0.95) - 1
    return statistics.median(wall), wall[p95], statistics.median(cpu), cpu[p95]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    settings = get_settings()
    db = Database(settings.database_url)
    with db.session(write=False) as session:
        total = session.scalar(select(func.count()).select_from(Complaint)) or 0
        top = session.scalar(select(Category.id).where(Category.parent_id.is_(None)).limit(1))
    app = create_app(settings, db=db)
    print(f"{total:,} complaints; load average {os.getloadavg()[0]:.1f}")
    print("| who | URL | wall p50 / p95 ms | CPU p50 / p95 ms |")
    print("| --- | --- | --- | --- |")
    for who, urls in (
        (
            "manager",
            (
                "/dashboard",
                "/dashboard?period=90d",
                "/dashboard?period=365d&by=month",
                f"/dashboard?category={top}",
                "/dashboard?team=service&channel=phone",
                "/dashboard?metric=response_rate&period=90d",
            ),
        ),
        ("lead_service", ("/dashboard",)),
    ):
        with TestClient(app, headers=HTML) as client:
            assert login(client, who, PASSWORD).status_code == 303
            for url in urls:
                p50, p95, c50, c95 = timed(client, url, args.repeat)
                print(f"| {who} | `{url}` | {p50:.0f} / {p95:.0f} | {c50:.0f} / {c95:.0f} |")


if __name__ == "__main__":
    main()
