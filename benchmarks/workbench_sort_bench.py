"""The workbench's sortable columns at scale: one page (and the next, by its cursor) per sort,
direction and queue, measured in-process on an existing database (e.g. a 1,000,000-complaint
`kesu demo`).

Usage: KESU_DATABASE_URL=sqlite:///… python benchmarks/workbench_sort_bench.py [--repeat 20]
Prints the median and p95 wall time in ms of ``kesu.complaints.sorting.list_sorted`` (the
queries and the ORM rows; not the HTML) for: an agent's team queue (three scope branches), an
agent's own queue, and a manager's "all" tab with open and with all complaints.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time

from sqlalchemy import func, select

from kesu.accounts.models import User
from kesu.clock import SystemClock
from kesu.complaints.models import Complaint
from kesu.complaints.queries import ComplaintFilters, list_complaints
from kesu.complaints.sorting import SORT_COLUMNS, Sort, list_sorted
from kesu.config import get_settings
from kesu.db import Database


def timed(run, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[math.ceil(len(samples) * 0.95) - 1]


def _page(session, user, filters, now, sort: Sort | None, cursor: str | None = None) -> tuple:
    session.expunge_all()
    if sort is None:
        return list_complaints(session, user, filters, now, 50, cursor)
    return list_sorted(session, user, filters, now, sort, 50, cursor)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    db = Database(get_settings().database_url)
    now = SystemClock().now()
    with db.session(write=False) as session:
        total = session.scalar(select(func.count()).select_from(Complaint))
        agent = session.scalar(
            select(User).where(User.role == "agent", User.is_active).order_by(User.id).limit(1)
        )
        manager = session.scalar(select(User).where(User.role == "manager").limit(1))
        print(f"{total:,} complaints; agent {agent.username} (team {agent.team_id})")
        queues = {
            "agent team queue": (agent, ComplaintFilters(open=True, team_queue=True)),
            "agent mine": (agent, ComplaintFilters(open=True, assignee="me")),
            "manager all open": (manager, ComplaintFilters(open=True)),
            "manager all (any)": (manager, ComplaintFilters(open=None)),
        }
        print("| queue | sort | page 1 p50 / p95 ms | page 2 p50 / p95 ms | rows |")
        print("| --- | --- | --- | --- | --- |")
        for name, (user, filters) in queues.items():
            for code in ["", *SORT_COLUMNS, *(f"-{k}" for k in SORT_COLUMNS)]:
                page = functools.partial(_page, session, user, filters, now, Sort.parse(code))
                rows, cursor = page()
                first = timed(page, args.repeat)
                second = (
                    timed(functools.partial(page, cursor), args.repeat) if cursor else (0.0, 0.0)
                )
                print(
                    f"| {name} | {code or 'newest (id)'} | {first[0]:.1f} / {first[1]:.1f} "
                    f"| {second[0]:.1f} / {second[1]:.1f} | {len(rows)} |"
                )


if __name__ == "__main__":
    main()
