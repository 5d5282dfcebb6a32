"""Similar-case latency at 10,000 and 1,000,000 complaints (not a timed test).

For each size N: a SQLite database filled by ``kesu demo --complaints N`` (which also writes
the ``similar_terms`` rows of its resolved and closed complaints), kept in ``--dir`` and
reused by later runs; then ``find_similar(k=5)`` for ``--queries`` random complaints (any
stage, as an agent would open them), as an admin and as an agent (whose answers are limited
to their scope), timed one call at a time after a short warm-up (wall time, and this
process's CPU time, which a busy shared machine disturbs less). The keywords of demo
complaints are extracted from their text on each call (they have no triage row), so the
figures include one jieba pass.

Usage:
  python benchmarks/similar_bench.py [--sizes 10000,1000000] [--queries 200]
      [--dir /tmp/kesu-similar-bench] [--fresh] [--backend sqlite|postgresql]
PostgreSQL (a throw-away server, as the tests start) is filled afresh each run. Results also
go to bench-results/similar/results-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kesu.accounts.models import User  # noqa: E402
from kesu.complaints.models import Complaint  # noqa: E402
from kesu.db import Database  # noqa: E402
from kesu.triage.models import SimilarTerm  # noqa: E402
from kesu.triage.similar import find_similar, keywords_of  # noqa: E402

OUT = ROOT / "bench-results" / "similar"
KESU = ROOT / ".venv" / "bin" / "kesu"


def demo(url: str, count: int, cwd: Path) -> float:
    env = {**os.environ, "KESU_DATABASE_URL": url}
    started = time.perf_counter()
    command = [str(KESU), "demo", "--complaints", str(count)]
    subprocess.run(command, check=True, env=env, cwd=cwd)
    return time.perf_counter() - started


def sqlite_database(folder: Path, count: int, fresh: bool) -> tuple[Database, float | None]:
    """``kesu demo`` into ``folder``, unless a finished database of that size is there."""
    path = folder / f"kesu-{count}.db"
    done = path.with_suffix(".done")
    if done.exists() and path.exists() and not fresh:
        return Database(f"sqlite:///{path}"), None
    for stale in folder.glob(path.name + "*"):
        stale.unlink()
    done.unlink(missing_ok=True)
    seconds = demo(f"sqlite:///{path}", count, folder)
    done.write_text(str(count))
    return Database(f"sqlite:///{path}"), seconds


def postgres_database(pg: Any, folder: Path, count: int) -> tuple[Database, float]:
    """A new database on the throw-away server, filled by ``kesu demo``."""
    name = f"similar_{count}"
    admin = Database(pg.url())
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return Database(pg.url(name)), demo(pg.url(name), count, folder)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(db: Database, queries: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with db.session(write=False) as session:
        top = session.scalar(select(func.max(Complaint.id))) or 0
        indexed = session.scalar(select(func.count(func.distinct(SimilarTerm.complaint_id))))
        rows = session.scalar(select(func.count()).select_from(SimilarTerm))
        users = {
            "admin": session.scalar(select(User).where(User.username == "admin")),
            "agent": session.scalar(select(User).where(User.username == "agent_quality_1")),
        }
    ids = [rng.randint(1, top) for _ in range(queries)]
    result: dict[str, Any] = {"complaints": top, "indexed": indexed, "index_rows": rows}
    for name, user in users.items():
        times, cpu, keyword_times, found, same = [], [], [], 0, 0
        with db.session(write=False) as session:
            for complaint_id in ids[:10]:  # warm-up: jieba's dictionary, page cache
                warm = session.get(Complaint, complaint_id)
                assert warm is not None
                find_similar(session, warm, 5, user)
            for complaint_id in ids:
                complaint = session.get(Complaint, complaint_id)
                assert complaint is not None
                started = time.perf_counter()
                keywords_of(session, complaint, 8)
                keyword_times.append((time.perf_counter() - started) * 1000)
                started, cpu_started = time.perf_counter(), time.process_time()
                cases = find_similar(session, complaint, 5, user)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                found += bool(cases)
                same += bool(cases) and cases[0].same_category
        result[name] = {
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(percentile(times, 0.95), 2),
            "max_ms": round(max(times), 2),
            # CPU time of this process: what the call costs without the machine's other load
            "cpu_p50_ms": round(statistics.median(cpu), 2),
            "cpu_p95_ms": round(percentile(cpu, 0.95), 2),
            "keywords_p50_ms": round(statistics.median(keyword_times), 2),
            "with_results": found,
            "first_same_category": same,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/kesu-similar-bench"))
    parser.add_argument("--fresh", action="store_true", help="rebuild the databases")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    pg = None
    if args.backend == "postgresql":  # a throw-away server, as the test suite starts
        from tests.pg import start_postgres

        pg = start_postgres()
        if pg is None:
            sys.exit("PostgreSQL is not installed")
    results = {}
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            if pg is None:
                db, load_seconds = sqlite_database(args.dir, size, args.fresh)
            else:
                db, load_seconds = postgres_database(pg, args.dir, size)
            figures = measure(db, args.queries, args.seed)
            db.dispose()
            figures["demo_seconds"] = round(load_seconds, 1) if load_seconds else None
            results[size] = figures
            line = {"backend": args.backend, "size": size, **figures}
            print(json.dumps(line, ensure_ascii=False), flush=True)
    finally:
        if pg is not None:
            pg.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"results-{args.backend}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
