"""Cost breakdown of one complaint create, in-process (no HTTP): SQL statements per create
(counted with an engine event, by table and kind), CPU per listener and per phase.

Usage: PYTHONPATH=. python benchmarks/create_profile.py [--creates 300] [--db sqlite:///…]
A fresh SQLite database is made in bench-results/profile/ unless --db is given.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--db", default="")
    parser.add_argument("--batch", type=int, default=1, help="creates per transaction")
    parser.add_argument("--http", action="store_true", help="through the app (TestClient)")
    parser.add_argument("--cprofile", default="", help="write a cProfile of the measured loop")
    args = parser.parse_args()
    if not args.db:
        workdir = ROOT / "bench-results" / "profile"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        args.db = f"sqlite:///{workdir / 'kesu.db'}"
        env = {**os.environ, "KESU_DATABASE_URL": args.db, "KESU_ENVIRONMENT": "development"}
        subprocess.run([sys.executable, "-m", "kesu.cli", "db", "upgrade"], env=env, check=True)
    os.environ["KESU_DATABASE_URL"] = args.db
    os.environ.setdefault("KESU_ENVIRONMENT", "development")

    from sqlalchemy import event

    from kesu.accounts.service import Actor
    from kesu.clock import SystemClock
    from kesu.complaints import events, registration
    from kesu.complaints.schemas import ComplaintCreate
    from kesu.db import Database

    db = Database(args.db)
    clock = SystemClock()
    actor = Actor("user", None, "bench")
    statements: collections.Counter[str] = collections.Counter()
    counting = {"on": False}

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if counting["on"]:
            words = sql.split()
            upper = [w.upper() for w in words]
            table = next(
                (
                    re.sub(r"[^a-z_]", "", words[upper.index(m) + 1].lower())
                    for m in ("INTO", "FROM", "UPDATE")
                    if m in upper[:-1]
                ),
                "",
            )
            statements[f"{upper[0]} {table}"] += 1

    events._install()
    cpu: collections.Counter[str] = collections.Counter()
    wrapped = []
    for listener in list(events._listeners):
        name = f"{listener.__module__}.{listener.__name__}"

        def timed(*a: Any, _l: Any = listener, _n: str = name) -> None:
            start = time.process_time()
            try:
                _l(*a)
            finally:
                cpu["listener " + _n] += time.process_time() - start

        wrapped.append(timed)
    events._listeners[:] = wrapped

    def body(n: int) -> ComplaintCreate:
        return ComplaintCreate.model_validate(
            {
                "channel": "api",
                "customer": {"name": f"压测客户{n}", "phone": f"139{n:08d}", "region": "上海"},
                "content": f"第{n}号压测投诉：收到的耳机左耳没有声音，包装也有破损，要求换货。",
                "order_no": f"BENCH-{n}",
                "product": "降噪耳机 X1",
                "remedy": "replacement",
            }
        )

    if args.http:
        _http(args, db, statements, counting, cpu, body)
        return

    def one(n: int, session: Any) -> None:
        data = body(n)
        start = time.process_time()
        prepared = registration.prepare(db, data)
        cpu["prepare (outside the transaction)"] += time.process_time() - start
        start = time.process_time()
        registration.create_complaint(
            session, clock, actor, data, f"key-{n}", "user:1", prepared=prepared
        )
        cpu["create_complaint incl. listeners"] += time.process_time() - start

    for n in range(20):  # warm-up: imports, jieba, the model, caches
        with db.session() as session:
            one(10_000_000 + n, session)

    counting["on"] = True
    cpu.clear()
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started_wall = time.perf_counter()
    started_cpu = time.process_time()
    done = 0
    while done < args.creates:
        t0 = time.process_time()
        session_cm = db.session()
        session = session_cm.__enter__()
        try:
            for _ in range(args.batch):
                if args.batch > 1:  # as the group commit does: a savepoint each
                    with session.begin_nested():
                        one(done, session)
                else:
                    one(done, session)
                done += 1
            t1 = time.process_time()
            session.flush()
            cpu["flush (ORM)"] += time.process_time() - t1
            t2 = time.process_time()
            session_cm.__exit__(None, None, None)
            cpu["commit"] += time.process_time() - t2
        except BaseException:
            session_cm.__exit__(*sys.exc_info())
            raise
        cpu["transaction total"] += time.process_time() - t0
    wall = time.perf_counter() - started_wall
    total_cpu = time.process_time() - started_cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.cprofile)
    print(
        f"{args.creates} creates, batch {args.batch}: {wall / args.creates * 1000:.2f} ms "
        f"wall, {total_cpu / args.creates * 1000:.2f} ms CPU per create"
    )
    print("\nCPU per create (ms):")
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds / args.creates * 1000:7.3f}  {name}")
    total = sum(statements.values())
    print(f"\nSQL statements per create: {total / args.creates:.2f}")
    for name, count in sorted(statements.items(), key=lambda kv: -kv[1]):
        print(f"  {count / args.creates:6.2f}  {name}")


def _http(args: Any, db: Any, statements: Any, counting: Any, cpu: Any, body: Any) -> None:
    """POST /api/v1/complaints through the whole app: auth, parsing, the create, the answer."""
    import uuid

    from fastapi.testclient import TestClient

    from kesu.accounts import service as accounts
    from kesu.clock import SystemClock
    from kesu.config import get_settings
    from kesu.web.app import create_app

    clock = SystemClock()
    with db.session() as session:
        name = "prof" + uuid.uuid4().hex[:8]
        user = accounts.create_user(
            session,
            clock,
            accounts.SYSTEM,
            username=name,
            password="password-123456",
            role="agent",
            team_code="service",
        )
        token = accounts.create_token(session, clock, accounts.SYSTEM, user)
    app = create_app(get_settings(), clock=clock, db=db)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        for n in range(20):
            payload = body(20_000_000 + n).model_dump(mode="json", exclude_none=True)
            client.post(
                "/api/v1/complaints", json=payload, headers={**headers, "Idempotency-Key": f"w{n}"}
            )
        counting["on"] = True
        start_cpu = time.process_time()
        start = time.perf_counter()
        for n in range(args.creates):
            payload = body(30_000_000 + n).model_dump(mode="json", exclude_none=True)
            answer = client.post(
                "/api/v1/complaints", json=payload, headers={**headers, "Idempotency-Key": f"k{n}"}
            )
            assert answer.status_code == 201, answer.text
        wall = time.perf_counter() - start
        used = time.process_time() - start_cpu
    print(
        f"HTTP: {args.creates} creates: {wall / args.creates * 1000:.2f} ms wall, "
        f"{used / args.creates * 1000:.2f} ms CPU per request (TestClient, one thread)"
    )
    total = sum(statements.values())
    print(f"SQL statements per request: {total / args.creates:.2f}")
    for name, count in sorted(statements.items(), key=lambda kv: -kv[1]):
        print(f"  {count / args.creates:6.2f}  {name}")
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds / args.creates * 1000:7.3f} ms CPU  {name}")


if __name__ == "__main__":
    main()
