"""Worker and overdue-list benchmark (not a timed test): database time, not wall time.

1. A database with N open complaints (``kesu demo`` with recent dates, so ~99.6 % are open)
   and five SLA clocks each (first response, classification, solution, resolution, stage:
   ~5 N timer rows); K of the resolution clocks are due now, as breaches (level 1: timeline
   event, audit row, in-app notifications to the assignee and the team leads, an escalation
   task, and the clock re-armed for level 2).
2. One worker pass over the K due timers, measured as database time (the sum of every
   statement's execution, plus the commit) and wall time (including Python).
3. An idle pass (nothing due): the cost of looking, every few seconds, forever.
4. The overdue list (``list_complaints(overdue=True)``, what ``GET /api/v1/complaints?
   overdue=true`` runs): first page and a cursor page, as a manager and as an agent.

Usage:
  python benchmarks/worker_bench.py [--backend sqlite|postgresql|both] [--complaints 1000000]
      [--small 10000] [--due 1000] [--repeat 5] [--synthetic]
PostgreSQL is started in a temporary directory (as the test suite does), with
``pg_stat_statements`` loaded: on PostgreSQL the pass's database time is also read from the
server (``total_exec_time + total_plan_time`` of every statement of the pass, COPY included),
beside the client-side sum of statement durations.

``--synthetic`` (PostgreSQL only): instead of ``kesu demo`` for the large size (≈35 min for a
million), the ``--small`` demo complaints are copied inside the database (``INSERT … SELECT``
over ``generate_series``: new ids, numbers and tracking tokens, everything else as the
original) until there are ``--complaints`` of them; the clocks are then added as above.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Integer, String, event, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kesu import bulk, demo  # noqa: E402
from kesu.accounts.models import User  # noqa: E402
from kesu.clock import FrozenClock  # noqa: E402
from kesu.complaints.models import Complaint  # noqa: E402
from kesu.complaints.queries import ComplaintFilters, list_complaints  # noqa: E402
from kesu.db import Database, UTCDateTime  # noqa: E402
from kesu.migrate import upgrade  # noqa: E402
from kesu.sla.escalation import fire_due  # noqa: E402
from kesu.sla.models import SlaClock  # noqa: E402

OUT = ROOT / "bench-results" / "worker"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
MILESTONES = {  # milestone: (target minutes, next threshold in minutes from now, kind)
    "first_response": (60, 40, "warning"),
    "classification": (1440, 600, "warning"),
    "solution": (2880, 1500, "warning"),
    "resolution": (2880, 2000, "warning"),
    "stage": (1440, 900, "warning"),
}


class DbTimer:
    """Sums the time spent inside the database driver (every statement) on one engine."""

    def __init__(self, db: Database) -> None:
        self.total = 0.0
        self.statements = 0
        self.log: list[tuple[float, str]] = []
        self._start: list[float] = []
        event.listen(db.engine, "before_cursor_execute", self._before)
        event.listen(db.engine, "after_cursor_execute", self._after)
        # COPY (PostgreSQL bulk rows) goes straight to the driver: time it here too.
        original = bulk.copy_rows

        def timed(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
            self._before()
            original(session, table, rows)
            self._after(None, None, f"COPY {table.name} ({len(rows)} rows)")

        bulk.copy_rows = timed  # type: ignore[assignment]

    def _before(self, *args: Any) -> None:
        self._start.append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        spent = time.perf_counter() - self._start.pop()
        self.total += spent
        self.statements += 1
        self.log.append((spent, statement[:160].replace("\n", " ")))

    @contextmanager
    def measure(self) -> Iterator[dict[str, float]]:
        result: dict[str, float] = {}
        before, count = self.total, self.statements
        started = time.perf_counter()
        yield result
        result["db_ms"] = (self.total - before) * 1000 + result.get("commit_ms", 0.0)
        result["wall_ms"] = (time.perf_counter() - started) * 1000
        result["statements"] = self.statements - count


def load(db: Database, count: int, seed: int) -> float:
    started = time.perf_counter()
    upgrade(db, FrozenClock(NOW))
    demo.generate(db, FrozenClock(NOW), count, days=7, seed=seed)
    return time.perf_counter() - started


def add_clocks(db: Database) -> int:
    """Five running clocks per open complaint, set-based (INSERT … SELECT)."""
    with db.session() as session:
        session.execute(text("DELETE FROM sla_clocks"))
        for milestone, (target, ahead, kind) in MILESTONES.items():
            # Spread the next thresholds over the coming days, by id.
            spread = (Complaint.id % 5000) * 60  # seconds
            fire = _plus_seconds(db, literal(NOW + timedelta(minutes=ahead), UTCDateTime()), spread)
            session.execute(
                insert(SlaClock).from_select(
                    [
                        "complaint_id",
                        "milestone",
                        "cycle",
                        "policy_id",
                        "policy_version",
                        "calendar_code",
                        "target_minutes",
                        "warn_percent",
                        "level_percents",
                        "started_at",
                        "pauses",
                        "status",
                        "due_at",
                        "breached",
                        "notified",
                        "next_fire_at",
                        "next_kind",
                        "updated_at",
                    ],
                    select(
                        Complaint.id,
                        literal(milestone, String()),
                        literal(0, Integer()),
                        literal(None, Integer()),
                        literal(0, Integer()),
                        literal("standard", String()),
                        literal(target, Integer()),
                        literal(80, Integer()),
                        literal([150, 200], JSON()),
                        Complaint.received_at,
                        literal([], JSON()),
                        literal("running", String()),
                        Complaint.due_at,
                        literal(False),
                        literal(0, Integer()),
                        fire,
                        literal(kind, String()),
                        Complaint.received_at,
                    ).where(Complaint.is_open.is_(True)),
                )
            )
        return session.scalar(select(func.count()).select_from(SlaClock)) or 0


def _plus_seconds(db: Database, base: Any, seconds: Any) -> Any:
    if db.is_sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' text
        moved = func.strftime("%Y-%m-%d %H:%M:%S", base, func.printf("+%d seconds", seconds))
        return moved.concat(".000000")
    return base + func.make_interval(0, 0, 0, 0, 0, 0, seconds)


def grow(db: Database, target: int) -> float:
    """``--synthetic``: copies the demo complaints inside PostgreSQL until there are ``target``."""
    started = time.perf_counter()
    table = Complaint.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    values = []
    for name in columns:
        if name == "number":
            values.append("left(number, 24) || '-' || g")  # g: a batch's own suffix
        elif name == "tracking_token":
            values.append("left(tracking_token, 50) || '-' || g")
        else:
            values.append(name)
    with db.session() as session:
        base = session.scalar(select(func.count()).select_from(Complaint)) or 1
        top = session.scalar(select(func.max(Complaint.id))) or 0
    while True:
        with db.session() as session:
            have = session.scalar(select(func.count()).select_from(Complaint)) or 0
            if have >= target:
                break
            session.execute(
                text(
                    f"INSERT INTO complaints ({', '.join(columns)}) "
                    f"SELECT {', '.join(values)} FROM complaints, (SELECT {have} AS g) AS c "
                    f"WHERE id <= {top} ORDER BY id LIMIT {min(base, target - have)}"
                )
            )
    return time.perf_counter() - started


def start_pg_with_stats() -> Any:
    """A throw-away PostgreSQL (tests/pg.py) restarted with ``pg_stat_statements`` loaded."""
    from tests.pg import start_postgres

    pg = start_postgres()
    if pg is None:
        return None
    try:
        admin = Database(pg.url())
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        admin.dispose()
        pg._run("pg_ctl", "-D", str(pg.datadir), "-w", "restart")  # keeps the start's options
        admin = Database(pg.url())
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
        admin.dispose()
    except BaseException:
        pg.stop()
        raise
    return pg


class ServerTimer:
    """PostgreSQL's own account of the time spent: execution plus planning of every statement
    (pg_stat_statements), read on a separate connection before and after what is measured."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def total_ms(self) -> tuple[float, list[tuple[float, int, str]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT total_exec_time + total_plan_time AS ms, calls, query "
                    "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'"
                )
            ).all()
        return sum(r.ms for r in rows), [(r.ms, r.calls, r.query) for r in rows]

    def reset(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_statements_reset()"))
            conn.commit()
        self._wal = self._lsn()

    def wal_bytes(self) -> int:
        """WAL written since ``reset``: the pass's writes, whatever the machine's load."""
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT pg_wal_lsn_diff(CAST(:now AS pg_lsn), CAST(:then AS pg_lsn))"),
                {"now": self._lsn(), "then": self._wal},
            ).scalar()
        return int(found or 0)

    def _lsn(self) -> str:
        with self.engine.connect() as conn:
            return str(conn.execute(text("SELECT pg_current_wal_lsn()")).scalar())


def make_due(db: Database, count: int) -> None:
    """``count`` resolution clocks (not yet alerted) of complaints that have a team and an
    assignee (the usual case: a breach of an unowned complaint also assigns it, through the
    complaint service) become due now, as breaches."""
    with db.session() as session:
        ids = (
            select(SlaClock.id)
            .join(Complaint, Complaint.id == SlaClock.complaint_id)
            .where(
                SlaClock.milestone == "resolution",
                SlaClock.notified == 0,
                Complaint.assignee_id.is_not(None),
                Complaint.team_id.is_not(None),
            )
            .order_by(SlaClock.id)
            .limit(count)
        )
        session.execute(
            update(SlaClock)
            .where(SlaClock.id.in_(ids.scalar_subquery()))
            .values(
                # 49 of 48 hours used on a 7×24 calendar: past the target (level 1), short of
                # 150 % (level 2), so one pass fires exactly one breach per clock.
                calendar_code="always_open",
                started_at=NOW - timedelta(hours=49),
                due_at=NOW - timedelta(hours=1),
                next_fire_at=NOW - timedelta(hours=1),
                next_kind="breach",
                notified=1,
            )
        )


def bench_pass(db: Database, timer: DbTimer, due: int, repeat: int) -> dict[str, Any]:
    runs = []
    server = ServerTimer(db) if not db.is_sqlite else None
    for _ in range(repeat):
        make_due(db, due)
        clock = FrozenClock(NOW)
        timer.log.clear()
        if server is not None:
            server.reset()
        with timer.measure() as result, db.session() as session:
            claimed, announced = fire_due(session, clock, due)
            session.flush()  # the inserts: measured by the statement timer
            started = time.perf_counter()
            session.commit()  # the COMMIT itself (the driver's, not a statement)
            result["commit_ms"] = (time.perf_counter() - started) * 1000
        result.update(claimed=claimed, announced=announced)
        if server is not None:
            total, statements = server.total_ms()
            result["server_ms"] = total + result["commit_ms"]
            result["wal_bytes"] = server.wal_bytes()
            result["server_top"] = [  # the costliest statements
                f"{ms:.1f} ms ×{calls} {query[:110]}"
                for ms, calls, query in sorted(statements)[-8:]
            ]
        result["slowest"] = [f"{t * 1000:.1f} ms {s}" for t, s in sorted(timer.log)[-6:]]
        kinds: dict[str, int] = {}
        for _, statement in timer.log:
            kinds[statement[:70]] = kinds.get(statement[:70], 0) + 1
        result["statement_kinds"] = kinds
        runs.append(result)
    with timer.measure() as idle, db.session() as session:
        fire_due(session, FrozenClock(NOW), due)
    if server is not None:
        server.reset()
    return {
        "runs": runs,
        "db_ms_median": statistics.median(r["db_ms"] for r in runs),
        "server_ms_median": statistics.median(r.get("server_ms", 0.0) for r in runs),
        "wal_bytes_median": statistics.median(r.get("wal_bytes", 0) for r in runs),
        "wall_ms_median": statistics.median(r["wall_ms"] for r in runs),
        "idle_pass": idle,
    }


def explain_overdue(db: Database, user: User, clock: FrozenClock) -> list[dict[str, float]]:
    """PostgreSQL: EXPLAIN (ANALYZE) of each statement the overdue list's first page runs,
    with its parameters: the planning and execution time the server reports."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.session(write=False) as session:
            list_complaints(session, user, ComplaintFilters(overdue=True), clock.now(), 50, None)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    plans = []
    with db.engine.connect() as conn:
        for statement, parameters in captured:
            if "complaints" not in statement or "due_at" not in statement:
                continue
            samples = []
            for _ in range(5):
                found = conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
                ).scalar()
                samples.append(found[0])
            plans.append(
                {
                    "planning_ms": statistics.median(p["Planning Time"] for p in samples),
                    "execution_ms": statistics.median(p["Execution Time"] for p in samples),
                    "statement": statement[:100].replace("\n", " "),
                }
            )
    return plans


def bench_overdue(db: Database, timer: DbTimer, repeat: int) -> dict[str, Any]:
    clock = FrozenClock(NOW)
    out: dict[str, Any] = {}
    if not db.is_sqlite:
        with db.session(write=False) as session:
            for username in ("manager", "agent_service_1"):
                user = session.scalar(select(User).where(User.username == username))
                assert user is not None
                out[f"{username} explain"] = explain_overdue(db, user, clock)
    with db.session(write=False) as session:
        for username in ("manager", "agent_service_1"):
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            cursor = None
            for page in ("page 1", "page 2"):
                samples = []
                for _ in range(repeat):
                    with timer.measure() as result:
                        rows, following = list_complaints(
                            session, user, ComplaintFilters(overdue=True), clock.now(), 50, cursor
                        )
                    samples.append(result)
                out[f"{username} {page}"] = {
                    "rows": len(rows),
                    "db_ms_median": statistics.median(s["db_ms"] for s in samples),
                    "wall_ms_median": statistics.median(s["wall_ms"] for s in samples),
                }
                cursor = following
                session.expire_all()
    return out


def database_for(backend: str, name: str, pg: Any) -> Database:
    if backend == "sqlite":
        path = OUT / f"{name}.db"
        for suffix in ("", "-wal", "-shm", ".writelock"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return Database(f"sqlite:///{path}")
    admin = Database(pg.url())
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return Database(pg.url(name))


def run(
    backend: str, sizes: list[int], due: int, repeat: int, pg: Any, synthetic: bool = False
) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for size in sizes:
        db = database_for(backend, f"bench_{size}", pg)
        if synthetic and size != min(sizes):
            seconds = load(db, min(sizes), seed=min(sizes)) + grow(db, size)
        else:
            seconds = load(db, size, seed=size)
        clocks = add_clocks(db)
        db.analyze()
        if not db.is_sqlite:  # what autovacuum does to a live database: both sizes alike
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        timer = DbTimer(db)
        with db.session(write=False) as session:
            open_count = session.scalar(
                select(func.count()).select_from(Complaint).where(Complaint.is_open.is_(True))
            )
        entry: dict[str, Any] = {
            "complaints": size,
            "open": open_count,
            "clocks": clocks,
            "load_seconds": round(seconds, 1),
            "overdue_list": bench_overdue(db, timer, repeat * 4),
        }
        if size == max(sizes):
            entry["worker_pass"] = bench_pass(db, timer, due, repeat)
        report[f"{size:,}"] = entry
        print(backend, json.dumps(entry, ensure_ascii=False, indent=1, default=str))
        db.dispose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--synthetic", action="store_true", help="PostgreSQL: copy, not demo")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = sorted({args.small, args.complaints})
    report: dict[str, Any] = {}
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    pg = None
    try:
        if "postgresql" in backends:
            pg = start_pg_with_stats()
            if pg is None:
                print("PostgreSQL not installed; skipping it")
                backends.remove("postgresql")
        for backend in backends:
            synthetic = args.synthetic and backend == "postgresql"
            report[backend] = run(backend, sizes, args.due, args.repeat, pg, synthetic)
    finally:
        if pg is not None:
            pg.stop()
    name = f"results-{args.backend}.json"
    (OUT / name).write_text(json.dumps(report, indent=1, default=str))
    summary(report)


def summary(report: dict[str, Any]) -> None:
    print("\nbackend      complaints  open       pass DB ms (wall)   idle DB ms  overdue p1 DB ms")
    for backend, sizes in report.items():
        for label, entry in sizes.items():
            overdue = entry["overdue_list"]["manager page 1"]["db_ms_median"]
            agent = entry["overdue_list"]["agent_service_1 page 1"]["db_ms_median"]
            work = entry.get("worker_pass")
            passed = (
                f"{work['db_ms_median']:8.1f} ({work['wall_ms_median']:.0f})" if work else " " * 14
            )
            idle = f"{work['idle_pass']['db_ms']:8.2f}" if work else " " * 8
            print(
                f"{backend:12s} {label:>11s} {entry['open']:>9,}  {passed:>18s}  {idle}   "
                f"manager {overdue:.2f} / agent {agent:.2f}"
            )
            if work and "server_ms_median" in work and work["server_ms_median"]:
                print(
                    f"{'':25s} pass, server (pg_stat_statements): "
                    f"{work['server_ms_median']:.1f} ms, "
                    f"WAL {work['wal_bytes_median'] / 1e6:.2f} MB"
                )
            for who in ("manager", "agent_service_1"):
                for plan in entry["overdue_list"].get(f"{who} explain", []):
                    print(
                        f"{'':25s} overdue {who}: planning {plan['planning_ms']:.2f} ms, "
                        f"execution {plan['execution_ms']:.2f} ms"
                    )


if __name__ == "__main__":
    main()
