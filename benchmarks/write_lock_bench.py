"""SQLite write lock: throughput of 8 threads writing at once, and how a stuck writer is felt.

    .venv/bin/python benchmarks/write_lock_bench.py [--rounds 6] [--threads 8] [--each 250]

"before" is the unbounded blocking ``flock`` per transaction (kesu before issue 8); "after" is
``kesu.db._WriteLock`` (a per-process mutex with a timeout, then a bounded ``flock``). Rounds
alternate; the medians are printed. Then the lock file is held from outside and a write waits
for ``--timeout`` seconds: the time to its ServiceBusy is printed.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from kesu import db as kdb
from kesu.errors import ServiceBusy
from kesu.web import i18n  # noqa: F401  (loaded by the app; ServiceBusy's message needs it)


class Unbounded:
    """The lock as it was: one blocking flock per write transaction, no timeout."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = path

    def acquire(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def release(self, fd: int) -> None:
        os.close(fd)


def writes_per_second(lock_class: Any, threads: int, each: int) -> tuple[float, float]:
    kdb._WriteLock = lock_class  # type: ignore[misc]
    database = kdb.Database(f"sqlite:///{tempfile.mkdtemp()}/bench.db", pool_size=threads)
    with database.session() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    latencies: list[float] = []
    guard = threading.Lock()

    def work() -> None:
        mine = []
        for _ in range(each):
            started = time.perf_counter()
            with database.session() as session:
                session.execute(text("INSERT INTO t (v) VALUES ('x')"))
            mine.append(time.perf_counter() - started)
        with guard:
            latencies.extend(mine)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    database.dispose()
    latencies.sort()
    return threads * each / wall, latencies[int(len(latencies) * 0.95)] * 1000


def stuck_writer(timeout: float) -> float:
    database = kdb.Database(f"sqlite:///{tempfile.mkdtemp()}/stuck.db", lock_timeout=timeout)
    path = database.url.split(":///", 1)[1] + ".writelock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    started = time.perf_counter()
    try:
        with database.session() as session:
            session.execute(text("SELECT 1"))
    except ServiceBusy:
        return time.perf_counter() - started
    finally:
        os.close(fd)
        database.dispose()
    raise AssertionError("the write did not wait for the held lock")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--each", type=int, default=250)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    bounded = kdb._WriteLock
    results: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        results["before"].append(writes_per_second(Unbounded, args.threads, args.each))
        results["after"].append(writes_per_second(bounded, args.threads, args.each))
    kdb._WriteLock = bounded  # type: ignore[misc]
    for name, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        p95 = statistics.median(p for _, p in runs)
        print(f"{name}: median {rate:.0f} writes/s, median p95 {p95:.1f} ms ({len(runs)} rounds)")
    print(f"lock held elsewhere: ServiceBusy after {stuck_writer(args.timeout):.3f} s")


if __name__ == "__main__":
    main()
