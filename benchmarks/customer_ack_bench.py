"""What the customer's acknowledgement costs a registration (SQLite, not a timed test).

Registers N complaints through ``registration.create_complaint`` (outside a request, as the
email poller does), once with customers reachable only by phone and no SMS gateway (the
listener finds nobody to tell: no outbox row), once with an email (one ``customer.ack`` row
each), and prints the statements of one registration and the median / p95 of each.

Usage: PYTHONPATH=. python benchmarks/customer_ack_bench.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from kesu.accounts import service as accounts
from kesu.clock import FrozenClock
from kesu.complaints import registration
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database
from kesu.migrate import upgrade


def run(customer: dict[str, str], n: int) -> tuple[float, float, int]:
    folder = tempfile.mkdtemp()
    db = Database(f"sqlite:///{folder}/bench.db")
    clock = FrozenClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    upgrade(db, clock)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    times = []
    for i in range(n):
        body = {"channel": "web", "customer": dict(customer), "content": f"耳机左耳没有声音 {i}"}
        data = ComplaintCreate.model_validate(body)
        prepared = registration.prepare(db, data)
        statements.clear()
        start = time.perf_counter()
        with db.session() as session:
            registration.create_complaint(session, clock, accounts.SYSTEM, data, prepared=prepared)
            session.commit()
        times.append((time.perf_counter() - start) * 1000)
    db.dispose()
    times = sorted(times[20:])  # the first ones warm caches up
    return statistics.median(times), times[int(len(times) * 0.95)], len(statements)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for label, customer in (
        ("phone only, no SMS gateway (no message)", {"name": "甲", "phone": "13800138000"}),
        ("email (acknowledgement queued)", {"name": "乙", "email": "b@example.com"}),
    ):
        median, p95, statements = run(customer, n)
        print(f"{label}: {statements} statements, median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
