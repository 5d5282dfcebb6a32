"""The monthly report (PDF and Excel) on a database made by ``kesu demo --complaints N``.

Times, for one period, each step of what ``GET /api/v1/reports/monthly`` does: ``gather``
(the KPI service's rollups, the payouts by ``approved_at``, the period's corrective actions),
the PDF (WeasyPrint) and the Excel file (openpyxl), ``--runs`` times after one warm-up, and
prints the median and the worst with the file sizes and the peak memory of the process.
The rollups are rebuilt first when they are empty (``--rebuild`` forces it): ``kesu demo``
writes complaints with bulk inserts, which the incremental path never sees.

Usage:
  KESU_DATABASE_URL=sqlite:////tmp/kesu-report-bench/10k.db \\
      python benchmarks/report_bench.py --period 2026-11 [--quarter 2026-Q4] [--runs 5]
Results go to bench-results/report/<name of the database>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from kesu.analytics import rollups  # noqa: E402
from kesu.analytics.models import Rollup  # noqa: E402
from kesu.clock import SystemClock  # noqa: E402
from kesu.complaints.models import Complaint  # noqa: E402
from kesu.config import get_settings  # noqa: E402
from kesu.db import Database  # noqa: E402
from kesu.reports import pdf, xlsx  # noqa: E402
from kesu.reports.periods import parse  # noqa: E402
from kesu.reports.service import gather  # noqa: E402


def timed(runs: int, step: Any) -> tuple[list[float], Any]:
    result = step()  # warm-up (fonts, caches)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = step()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def summary(times: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--period", default="2026-11")
    parser.add_argument("--quarter", default="")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    db = Database(settings.database_url)
    clock = SystemClock()
    with db.session(write=False) as session:
        complaints = session.scalar(select(func.count(Complaint.id)))
        cubes = session.scalar(select(func.count()).select_from(Rollup))
    rebuilt_s = None
    if args.rebuild or not cubes:
        started = time.perf_counter()
        rollups.rebuild(db, clock)
        rebuilt_s = round(time.perf_counter() - started, 1)
    today = clock.now().date()
    out: dict[str, Any] = {
        "database": settings.database_url.rsplit("/", 1)[-1],
        "complaints": complaints,
        "rollups_rebuilt_s": rebuilt_s,
    }
    kinds = [("monthly", args.period)] + ([("quarterly", args.quarter)] if args.quarter else [])
    for kind, code in kinds:
        period = parse(kind, code, today)

        def figures(period: Any = period) -> Any:
            with db.session(write=False) as session:
                return gather(session, period, locale="zh_CN", now=clock.now())

        gathered, report = timed(args.runs, figures)
        pdf_times, pdf_bytes = timed(args.runs, lambda report=report: pdf.render(report))
        xlsx_times, xlsx_bytes = timed(args.runs, lambda report=report: xlsx.render(report))
        out[code] = {
            "total_in_period": report.total,
            "gather": summary(gathered),
            "pdf": {**summary(pdf_times), "bytes": len(pdf_bytes)},
            "xlsx": {**summary(xlsx_times), "bytes": len(xlsx_bytes)},
        }
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    target = ROOT / "bench-results" / "report"
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{out['database']}.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
