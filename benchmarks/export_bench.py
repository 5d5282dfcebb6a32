"""An export of the workbench list at 100,000 rows (not a timed test): wall time and memory.

Fills a SQLite database with ``--complaints`` generated demo complaints (``kesu.demo.generate``,
the same bulk path as ``kesu demo``) unless it already has them, then, as the demo manager
(every complaint, contacts unmasked), writes the whole list the way a background job does:
``service.run_job`` — the list read page by page with ``list_complaints`` (keyset, 1,000 rows
a page), the rows built, the file written in chunks with progress committed after each, renamed
into place, the job marked done and audited. Measured per format:

- wall time of the job, rows per second, the file's size;
- peak Python heap during the job (``tracemalloc``; what the rows and the writer hold) and the
  process's peak resident set (``ru_maxrss``; run one format per process to read it alone).

Usage:
  python benchmarks/export_bench.py --db /tmp/kesu-export-bench/kesu.db --complaints 100000 \\
      --format csv
  python benchmarks/export_bench.py --db /tmp/kesu-export-bench/kesu.db --format xlsx
  add ``--trace`` for the peak Python heap (tracemalloc makes the run slower, so time it
  without); ``/usr/bin/time -v`` gives the whole
  process's time and maximum resident set. Results go to bench-results/exports/.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kesu import demo  # noqa: E402
from kesu.accounts.models import User  # noqa: E402
from kesu.clock import SystemClock  # noqa: E402
from kesu.complaints.models import Complaint  # noqa: E402
from kesu.config import Settings  # noqa: E402
from kesu.db import Database  # noqa: E402
from kesu.exports import service  # noqa: E402
from kesu.exports.models import ExportJob  # noqa: E402
from kesu.migrate import upgrade  # noqa: E402

OUT = ROOT / "bench-results" / "exports"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=Path("/tmp/kesu-export-bench/kesu.db"))
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--format", choices=service.FORMATS, default="csv")
    parser.add_argument("--trace", action="store_true", help="peak Python heap (slower)")
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{args.db}"
    db = Database(url)
    clock = SystemClock()
    upgrade(db, clock)
    with db.session(write=False) as session:
        have = session.scalar(select(func.count()).select_from(Complaint)) or 0
    if have < args.complaints:
        started = time.perf_counter()
        demo.generate(db, clock, args.complaints - have, days=300)
        db.analyze()
        print(
            f"generated {args.complaints - have} complaints in {time.perf_counter() - started:.0f}s"
        )
    settings = Settings(database_url=url, data_dir=args.db.parent)
    with db.session() as session:
        manager = session.scalar(select(User).where(User.username == "manager"))
        assert manager is not None, "no demo manager"
        job = ExportJob(
            user_id=manager.id, format=args.format, filters={}, masked=False, created_at=clock.now()
        )
        session.add(job)
        session.commit()
        job_id = job.id
    claimed = service._claim(db, clock.now())
    assert claimed is not None and claimed[0] == job_id, "another export is queued first"
    if args.trace:
        tracemalloc.start()
    started = time.perf_counter()
    service.run_job(db, clock, settings, *claimed)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if args.trace else 0
    tracemalloc.stop()
    with db.session(write=False) as session:
        done = session.get(ExportJob, job_id)
        assert done is not None and done.status == "done", done and done.error
        rows, size = done.rows, done.size_bytes
        path = service.job_path(settings, done)
    result = {
        "format": args.format,
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed),
        "file_mb": round(size / 2**20, 1),
        "peak_python_heap_mb": round(peak / 2**20, 1) if args.trace else None,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"export-{args.format}-{rows}{'-trace' if args.trace else ''}.json").write_text(
        json.dumps(result, indent=2)
    )
    if path is not None:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
