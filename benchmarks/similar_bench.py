"""Similar-case latency at 10,000 and 1,000,000 complaints (not a timed test).

For each size N: a SQLite database filled by ``kesu demo --complaints N`` (which also writes
the ``similar_terms`` rows of its resolved and closed complaints), kept in ``--dir`` and
reused by later runs; then ``find_similar(k=5)`` for ``--queries`` random complaints (any
stage, as an agent would open them), as an admin and as an agent (whose answers are limited
to their scope), timed one call at a time after a short warm-up. The keywords of demo
complaints are extracted from their text on each call (they have no triage row), so the
figures include one jieba pass.

Usage:
  python benchmarks/similar_bench.py [--sizes 10000,1000000] [--queries 200]
      [--dir /tmp/kesu-similar-bench] [--fresh]
Results also go to bench-results/similar/results.json.
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


def build(path: Path, count: int, fresh: bool) -> float | None:
    """Runs ``kesu demo`` into ``path`` unless a finished database is already there."""
    done = path.with_suffix(".done")
    if done.exists() and path.exists() and not fresh:
        return None
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    done.unlink(missing_ok=True)
    env = {**os.environ, "KESU_DATABASE_URL": f"sqlite:///{path}"}
    started = time.perf_counter()
    command = [str(KESU), "demo", "--complaints", str(count)]
    subprocess.run(command, check=True, env=env, cwd=path.parent)
    done.write_text(str(count))
    return time.perf_counter() - started


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
        times, keyword_times, found, same = [], [], 0, 0
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
                started = time.perf_counter()
                cases = find_similar(session, complaint, 5, user)
                times.append((time.perf_counter() - started) * 1000)
                found += bool(cases)
                same += bool(cases) and cases[0].same_category
        result[name] = {
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(percentile(times, 0.95), 2),
            "max_ms": round(max(times), 2),
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
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        path = args.dir / f"kesu-{size}.db"
        load_seconds = build(path, size, args.fresh)
        db = Database(f"sqlite:///{path}")
        figures = measure(db, args.queries, args.seed)
        db.dispose()
        figures["demo_seconds"] = round(load_seconds, 1) if load_seconds else None
        figures["db_bytes"] = path.stat().st_size
        results[size] = figures
        print(json.dumps({"size": size, **figures}, ensure_ascii=False), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
