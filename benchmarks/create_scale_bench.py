"""Create latency against the size of the data: 10,000 vs 1,000,000 complaints (issue 13).

Two modes:

``run``  — sequential creates over HTTP. The source database is copied into a work directory
(never written), migrated with the code under test (``--code``: a checkout; its ``kesu`` runs
with ``PYTHONPATH`` set to it), a bench user and token are made, ``kesu serve --workers 2``
starts, and one client posts ``--warmup`` then ``--creates`` complaints one after another
(new customer each, except a ``--repeat-share`` that reuses the phone of an existing customer,
so repeat detection finds earlier complaints), each with the category that the seeded rule
"技术问题 → 技术支持部" assigns least-loaded. Prints p50/p95/p99 and the load average, and
checks that every 201 is a row.

``tx`` — the same creates in-process, timing only the write transaction (registration, the
listeners, the commit; the triage text work is done before it, as the API does): the part
that could grow with the data, with less of the HTTP and CPU noise of a shared machine.

``plans`` — one create in-process on a copy, every statement it runs captured and explained
(SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN``), flagging full scans of the big
tables: what "nothing in the write transaction scans" means, checked on real data.

    python benchmarks/create_scale_bench.py run --db /work/bench1m/kesu.db --creates 300
    python benchmarks/create_scale_bench.py run --db /work/bench1m/kesu.db --code /path/old
    python benchmarks/create_scale_bench.py tx --db /work/bench1m/kesu.db
    python benchmarks/create_scale_bench.py plans --db /work/bench1m/kesu.db
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CATEGORY = "产品质量/功能故障/无法开机"  # routed by the seeded least-loaded rule
# Tables that grow with the complaints: a full scan of any of them inside a create is a bug.
BIG = (
    "complaints",
    "customers",
    "complaint_events",
    "audit_log",
    "sla_clocks",
    "idempotency_keys",
    "incident_complaints",
    "triage_results",
    "notifications",
    "outbox",
    "similar_terms",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kesu(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "kesu.cli", *args]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip()


def copy_database(source: Path, workdir: Path) -> Path:
    """Copies the database (and its WAL, if any) into ``workdir``: the source stays untouched."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", workdir / f"kesu.db{suffix}")
    secret = source.parent / "secret_key"
    if secret.exists():
        shutil.copyfile(secret, workdir / "secret_key")
    return workdir / "kesu.db"


def environment(code: Path, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code)
    env["KESU_DATABASE_URL"] = f"sqlite:///{workdir / 'kesu.db'}"
    env["KESU_DATA_DIR"] = str(workdir)
    env["KESU_ENVIRONMENT"] = "development"
    return env


@contextmanager
def server(env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kesu.cli", "serve", "--port", str(port), "--workers",
         str(workers), "--log-level", "warning", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("kesu serve did not start")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def known_phones(database: Path, count: int, seed: int) -> list[str]:
    """Phones of existing customers with complaints (read-only), for repeat look-ups."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        top = conn.execute("SELECT MAX(id) FROM customers").fetchone()[0] or 0
        rng = random.Random(seed)
        phones: list[str] = []
        for _ in range(count * 4):
            row = conn.execute(
                "SELECT phone FROM customers WHERE id >= ? AND phone IS NOT NULL LIMIT 1",
                (rng.randrange(1, top + 1),),
            ).fetchone()
            if row:
                phones.append(row[0])
            if len(phones) >= count:
                break
    return phones


def body(n: int, phone: str | None) -> dict[str, Any]:
    return {
        "channel": "api",
        "customer": {
            "name": f"压测客户{n}",
            "phone": phone or f"137{n % 100_000_000:08d}",
            "region": "上海",
        },
        "content": f"第{n}号压测投诉：手机无法开机，充电也没有反应，要求维修。",
        "order_no": f"SCALE-{n}",
        "product": "智能手机 S2",
        "category": CATEGORY,
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def migrated_copy(args: argparse.Namespace) -> tuple[Path, dict[str, str], float, float]:
    """The copy of ``--db`` in ``--workdir``, migrated by the code under test; the seconds the
    copy and the migration took."""
    workdir = Path(args.workdir).resolve()
    started = time.perf_counter()
    database = copy_database(Path(args.db), workdir)
    copied = time.perf_counter() - started
    env = environment(Path(args.code).resolve(), workdir)
    started = time.perf_counter()
    kesu(env, "db", "upgrade")
    return database, env, copied, time.perf_counter() - started


def run(args: argparse.Namespace) -> dict[str, Any]:
    code = Path(args.code).resolve()
    workdir = Path(args.workdir).resolve()
    database, env, copied, upgraded = migrated_copy(args)
    username = f"scale{random.randrange(10**6)}"
    kesu(env, "user", "create", "--username", username, "--password", "bench-password-1",
         "--role", "agent", "--team", "service")  # fmt: skip
    token = kesu(env, "token", "create", "--user", username).splitlines()[-1]
    with sqlite3.connect(database) as conn:
        before = conn.execute("SELECT COUNT(*) FROM complaints").fetchone()[0]
    total = args.warmup + args.creates
    phones = known_phones(database, max(1, int(total * args.repeat_share)), args.seed)
    rng = random.Random(args.seed)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    load_before = os.getloadavg()
    with server(env, args.workers) as base:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for n in range(total):
                phone = rng.choice(phones) if phones and rng.random() < args.repeat_share else None
                key = {"Idempotency-Key": f"scale-{args.seed}-{n}"}
                t0 = time.perf_counter()
                response = client.post("/api/v1/complaints", json=body(n, phone), headers=key)
                elapsed = (time.perf_counter() - t0) * 1000
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if n >= args.warmup:
                    latencies.append(elapsed)
    load_after = os.getloadavg()
    with sqlite3.connect(database) as conn:
        after = conn.execute("SELECT COUNT(*) FROM complaints").fetchone()[0]
    result = {
        "db": str(args.db),
        "code": str(code),
        "complaints_before": before,
        "creates": len(latencies),
        "statuses": statuses,
        "rows_added": after - before,
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "copy_s": round(copied, 1),
        "upgrade_s": round(upgraded, 1),
    }
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


class _RollBack(Exception):
    """Ends the explained create without committing it."""


# -- plans ------------------------------------------------------------------------------------


def capture_plans(session: Any, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Explains each captured statement on the session's connection (in its transaction)."""
    connection = session.connection()
    sqlite_db = connection.dialect.name == "sqlite"
    out = []
    for statement, parameters in statements:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
            continue
        if verb == "INSERT" and not re.search(r"\bSELECT\b", statement, re.I):
            continue  # INSERT … VALUES reads nothing (ON CONFLICT uses the unique index)
        prefix = "EXPLAIN QUERY PLAN " if sqlite_db else "EXPLAIN "
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
        plan = [r[-1] for r in rows] if sqlite_db else [r[0] for r in rows]
        scans = [
            line
            for line in plan
            if any(re.search(rf"\b(SCAN|Seq Scan on) {t}\b", line) for t in BIG)
        ]
        out.append({"sql": " ".join(statement.split())[:240], "plan": plan, "full_scans": scans})
    return out


def plans(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One create in-process, rolled back; every statement of it explained."""
    sys.path.insert(0, str(Path(args.code).resolve()))
    from sqlalchemy import event

    from kesu.accounts import service as accounts
    from kesu.clock import SystemClock
    from kesu.complaints import registration
    from kesu.complaints.schemas import ComplaintCreate
    from kesu.db import Database

    if args.url:
        url, phones = args.url, []
    else:
        database = migrated_copy(args)[0]
        url, phones = f"sqlite:///{database}", known_phones(database, 1, args.seed)
    db = Database(url)
    statements: list[tuple[str, Any]] = []
    recording = [True]

    @event.listens_for(db.engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:  # fmt: skip
        if recording[0]:
            many = executemany and isinstance(parameters, list | tuple)
            statements.append((statement, parameters[0] if many else parameters))

    phone = phones[0] if phones else None
    data = ComplaintCreate.model_validate(body(random.randrange(10**7), phone))
    prepared = registration.prepare(db, data)
    found: list[dict[str, Any]] = []
    try:
        with db.session() as session:
            registration.create_complaint(
                session, SystemClock(), accounts.SYSTEM, data, "plans-1", "bench", prepared
            )
            session.flush()
            recording[0] = False
            found = capture_plans(session, statements)
            raise _RollBack
    except _RollBack:
        pass
    return found


def transactions(args: argparse.Namespace) -> dict[str, Any]:
    """Sequential creates in-process: the write transaction alone (registration, listeners,
    commit), timed per create — the part that could grow with the data, without HTTP, auth
    and the triage text work (done before the transaction, as the API does)."""
    database = migrated_copy(args)[0]
    sys.path.insert(0, str(Path(args.code).resolve()))
    import kesu
    from kesu.accounts import service as accounts
    from kesu.clock import SystemClock
    from kesu.complaints import registration
    from kesu.complaints.schemas import ComplaintCreate
    from kesu.db import Database

    db = Database(f"sqlite:///{database}")
    total = args.warmup + args.creates
    phones = known_phones(database, max(1, int(total * args.repeat_share)), args.seed)
    rng = random.Random(args.seed)
    clock = SystemClock()
    latencies: list[float] = []
    load_before = os.getloadavg()
    for n in range(total):
        phone = rng.choice(phones) if phones and rng.random() < args.repeat_share else None
        data = ComplaintCreate.model_validate(body(n, phone))
        prepared = registration.prepare(db, data)
        t0 = time.perf_counter()
        with db.session() as session:
            registration.create_complaint(
                session, clock, accounts.SYSTEM, data, f"tx-{args.seed}-{n}", "bench", prepared
            )
        if n >= args.warmup:
            latencies.append((time.perf_counter() - t0) * 1000)
    result = {
        "db": str(args.db),
        "code": str(Path(args.code).resolve()),
        "imported": kesu.__file__,
        "creates": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    if not args.keep:
        shutil.rmtree(Path(args.workdir), ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("run", "tx", "plans"):
        p = sub.add_parser(name)
        p.add_argument("--db", help="source SQLite database (copied, never written)")
        p.add_argument("--code", default=str(ROOT), help="checkout whose kesu runs")
        p.add_argument("--seed", type=int, default=13)
        p.add_argument("--workdir", default=str(ROOT / "bench-results" / f"create-scale-{name}"))
    for name in ("run", "tx"):
        r = sub.choices[name]
        r.add_argument("--creates", type=int, default=300)
        r.add_argument("--warmup", type=int, default=30)
        r.add_argument("--repeat-share", type=float, default=0.2)
        r.add_argument("--keep", action="store_true", help="keep the copied database")
    sub.choices["run"].add_argument("--workers", type=int, default=2)
    sub.choices["plans"].add_argument("--url", help="explain on this database URL instead")
    args = parser.parse_args()
    if not args.db and not getattr(args, "url", None):
        parser.error("--db is needed (or --url for plans)")
    if args.mode in ("run", "tx"):
        result = run(args) if args.mode == "run" else transactions(args)
        print(json.dumps(result, ensure_ascii=False))
        return
    found = plans(args)
    for item in found:
        flag = "FULL SCAN  " if item["full_scans"] else ""
        print(f"{flag}{item['sql']}")
        for line in item["plan"]:
            print(f"    {line}")
    scans = sum(1 for item in found if item["full_scans"])
    print(f"{len(found)} statements explained, {scans} with a full scan of a big table")


if __name__ == "__main__":
    main()
