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


def timed(client: TestClient, url: str, repeat: int) -> tuple[float, float]:
    assert client.get(url).status_code == 200, url  # warm: templates, caches
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    samples.sort()
    return statistics.median(samples), samples[math.ceil(len(samples) * 0.95) - 1]


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
    print(f"{total:,} complaints")
    print("| who | URL | p50 ms | p95 ms |")
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
                p50, p95 = timed(client, url, args.repeat)
                print(f"| {who} | `{url}` | {p50:.0f} | {p95:.0f} |")


if __name__ == "__main__":
    main()
