"""`make bench`: HTTP benchmarks of kesu against real `kesu serve` processes, driven by wrk.

0. Side by side (`--only compare`): kesu and django-helpdesk (from PyPI, in a venv of its own
   under bench-results/) registering the same complaints/tickets under the same wrk script,
   concurrency, warm-up and duration, in one run: SQLite with two server processes each, then
   PostgreSQL (a cluster the bench starts) with kesu at `--workers 2` and 4 beside the peer's 2.
1. Complaint creation: POST /api/v1/complaints at concurrency 16 on SQLite, `--workers 2`.
2. List latency: the list endpoint (several filters) and the workbench page with 10,000 and
   then 1,000,000 complaints in the database.

Results are printed as a table and written to bench-results/results.json.
Usage: python benchmarks/run.py [--large 1000000] [--small 10000] [--seconds 20]
       [--only compare|create|scale] [--warmup 3] [--rounds 1] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pgcluster
from peer import harness

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
OUT = ROOT / "bench-results"
KESU = str(Path(sys.executable).parent / "kesu")
START_TIMEOUT = 120.0  # seconds for a server to answer; a loaded machine needs far more than 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kesu(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([KESU, *args], env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip()


@contextmanager
def server(env: dict[str, str], workers: int, log: Path | None = None) -> Iterator[str]:
    """`kesu serve` on a free port for the length of the block; its output goes to `log`."""
    port = free_port()
    out = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [
            KESU,
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"kesu serve did not start (exit code {process.poll()}, {log})")
            time.sleep(0.1)
        time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()


def wrk(script: str, url: str, connections: int, seconds: int, env: dict[str, str]) -> dict:
    command = [
        "wrk",
        "-t2" if connections > 1 else "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / script),
        url,
    ]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    match = re.search(r"RESULT (\{.*\})", output)
    if not match:
        raise RuntimeError(output)
    result = json.loads(match.group(1))
    result["command"] = " ".join([*command[:-2], Path(command[-2]).name, url])
    return result


def environment(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["KESU_DATABASE_URL"] = f"sqlite:///{workdir / 'kesu.db'}"
    env["KESU_ENVIRONMENT"] = "development"
    return env


def prepare_kesu(env: dict[str, str]) -> str:
    """Migrates the database, adds the agent `bench` (team service) and returns its API token."""
    kesu(env, "db", "upgrade")
    kesu(
        env,
        "user",
        "create",
        "--username",
        "bench",
        "--password",
        "bench-password",
        "--role",
        "agent",
        "--team",
        "service",
    )
    return kesu(env, "token", "create", "--user", "bench").splitlines()[-1]


def bench_create(seconds: int) -> dict:
    workdir = OUT / "create"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = environment(workdir)
    env["KESU_BENCH_TOKEN"] = prepare_kesu(env)
    with server(env, workers=2) as base:
        wrk("create.lua", base, 16, 3, env)  # warm-up
        result = wrk("create.lua", base, 16, seconds, {**env, "KESU_BENCH_BASE": "50000000"})
    rows = (
        sqlite3.connect(workdir / "kesu.db")
        .execute("SELECT count(*) FROM complaints")
        .fetchone()[0]
    )
    result["rows_in_database"] = rows
    result["per_second"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    return result


LIST_PATHS = {
    "list newest 50": "/api/v1/complaints?limit=50",
    "list stage=investigating": "/api/v1/complaints?stage=investigating&limit=50",
    "list overdue": "/api/v1/complaints?overdue=true&limit=50",
    "list team=logistics": "/api/v1/complaints?team=logistics&limit=50",
    "list page 2 (cursor)": "CURSOR",
}


def login_cookie(base: str, username: str, password: str) -> str | None:
    """Logs in through the HTML form (with its CSRF token) and returns the session cookie."""
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        page = client.get("/login")
        if page.status_code != 200:
            return None
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        data = {"username": username, "password": password}
        if token:
            data["csrf_token"] = token.group(1)
        answer = client.post("/login", data=data)
        cookie = client.cookies.get("kesu")
        return f"kesu={cookie}" if answer.status_code in (302, 303) and cookie else None


def bench_lists(env: dict[str, str], label: str, seconds: int) -> dict:
    results: dict[str, dict] = {}
    with server(env, workers=2) as base:
        headers = {"Authorization": f"Bearer {env['KESU_BENCH_TOKEN']}"}
        first = httpx.get(base + "/api/v1/complaints?limit=50", headers=headers).json()
        paths = dict(LIST_PATHS)
        paths["list page 2 (cursor)"] = f"/api/v1/complaints?limit=50&cursor={first['next_cursor']}"
        for name, path in paths.items():
            results[name] = wrk("get.lua", base + path, 4, seconds, env)
        cookie = login_cookie(base, "agent_service_1", "kesu-demo-2026")
        if cookie:
            page_env = {**env, "KESU_BENCH_COOKIE": cookie, "KESU_BENCH_TOKEN": ""}
            results["workbench page (agent)"] = wrk("get.lua", base + "/", 4, seconds, page_env)
            results["workbench team queue"] = wrk(
                "get.lua", base + "/?tab=team", 4, seconds, page_env
            )
    return {"label": label, "results": results}


def bench_scale(small: int, large: int, seconds: int) -> list[dict]:
    workdir = OUT / "scale"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = environment(workdir)
    started = time.perf_counter()
    kesu(env, "demo", "--complaints", str(small))
    small_seconds = time.perf_counter() - started
    env["KESU_BENCH_TOKEN"] = kesu(env, "token", "create", "--user", "manager").splitlines()[-1]
    runs = [bench_lists(env, f"{small:,} complaints", seconds)]
    runs[0]["demo_seconds"] = round(small_seconds, 1)
    started = time.perf_counter()
    kesu(env, "demo", "--complaints", str(large - small), "--seed", "7")
    large_seconds = time.perf_counter() - started
    runs.append(bench_lists(env, f"{large:,} complaints", seconds))
    runs[1]["demo_seconds"] = round(large_seconds, 1)
    runs[1]["db_bytes"] = (workdir / "kesu.db").stat().st_size
    return runs


# ---- 0. Side by side with django-helpdesk (--only compare) ----------------------------------


@dataclass
class Side:
    """One server under test: how to start it, what the wrk script needs, how to count rows."""

    name: str
    database: str
    workers: int
    serve: Callable[[], AbstractContextManager[str]]
    wrk_env: dict[str, str]
    titles: Callable[[], list[str]]  # the titles of every complaint/ticket stored


def sqlite_titles(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute(f"SELECT title FROM {table}")]


def pg_titles(cluster: pgcluster.Cluster, database: str, table: str) -> list[str]:
    return cluster.psql(f"SELECT title FROM {table}", database=database).splitlines()


def kesu_side(workdir: Path, workers: int, cluster: pgcluster.Cluster | None) -> Side:
    """A fresh kesu database (SQLite in workdir, or a new database in the cluster)."""
    env = environment(workdir)
    env["KESU_DATA_DIR"] = str(workdir)
    if cluster is None:
        database = "SQLite"

        def titles() -> list[str]:
            return sqlite_titles(workdir / "kesu.db", "complaints")
    else:
        database, name = "PostgreSQL", f"kesu_w{workers}"
        cluster.create_database(name)
        env["KESU_DATABASE_URL"] = cluster.sqlalchemy_url(name)

        def titles() -> list[str]:
            return pg_titles(cluster, name, "complaints")

    token = prepare_kesu(env)
    return Side(
        "kesu",
        database,
        workers,
        lambda: server(env, workers, workdir / "serve.log"),
        {"BENCH_TARGET": "kesu", "BENCH_TOKEN": token},
        titles,
    )


def peer_side(venv: Path, workdir: Path, workers: int, cluster: pgcluster.Cluster | None) -> Side:
    """A fresh django-helpdesk database (SQLite file or a new database in the cluster)."""
    if cluster is None:
        database, path = "SQLite", workdir / "peer.db"
        settings = {"PEER_DB_ENGINE": "sqlite", "PEER_DB_NAME": str(path)}

        def titles() -> list[str]:
            return sqlite_titles(path, "helpdesk_ticket")
    else:
        database, name = "PostgreSQL", "peer"
        cluster.create_database(name)
        settings = {
            "PEER_DB_ENGINE": "postgresql",
            "PEER_DB_NAME": name,
            "PEER_DB_PORT": str(cluster.port),
            "PEER_DB_USER": cluster.user,
        }

        def titles() -> list[str]:
            return pg_titles(cluster, name, "helpdesk_ticket")

    peer = harness.prepare(venv, settings)
    return Side(
        "django-helpdesk",
        database,
        workers,
        lambda: harness.serve(venv, peer, workers, workdir / "gunicorn.log"),
        {"BENCH_TARGET": "helpdesk", "BENCH_TOKEN": peer.token, "BENCH_QUEUE": str(peer.queue)},
        titles,
    )


WARMUP_ROUNDS = 6


def compare_pass(
    url: str, connections: int, seconds: int, env: dict[str, str], number: int, acks: Path
) -> dict:
    """One wrk pass; its acknowledged request numbers go to acks/<number>.txt."""
    pass_env = {
        **env,
        "BENCH_BASE": str(number * 100_000_000),
        "BENCH_ACK_FILE": str(acks / f"{number}.txt"),
    }
    return wrk("compare.lua", url, connections, seconds, pass_env)


def warm_up(
    url: str, connections: int, seconds: int, env: dict[str, str], acks: Path
) -> list[dict]:
    """Passes of wrk with the compare script until the rate is steady: at least two passes,
    the last answering at least one request per connection and at least 80 % as many as the
    best pass before it (at most WARMUP_ROUNDS passes). A pass lasts `seconds`, longer when
    the answers are slower than that (twice the slowest answer of the pass before, or twice
    the pass when it answered nothing; at most 30 s). A server process that loads its models
    on its first request is then warm before the measured run starts."""
    passes: list[dict] = []
    length = seconds
    for number in range(WARMUP_ROUNDS):
        passes.append(compare_pass(url, connections, length, env, number, acks))
        created = passes[-1]["created"]
        best = max((p["created"] for p in passes[:-1]), default=None)
        if best is not None and created >= connections and created >= 0.8 * best:
            break
        slowest = passes[-1].get("max_us", 0) / 1e6
        length = min(30, max(seconds, math.ceil(2 * slowest) if created else 2 * length))
    return passes


def stored_check(titles: list[str], acks: Path) -> dict[str, int]:
    """Every acknowledged (201) request must be stored exactly once. Stored rows nobody saw
    acknowledged are requests wrk had in flight when a pass stopped (at most one per
    connection and pass)."""
    stored = Counter(int(m.group(1)) for t in titles if (m := re.search(r"BENCH-(\d+)", t)))
    acknowledged = [line.strip() for f in sorted(acks.glob("*.txt")) for line in f.open()]
    numbers = {int(n) for n in acknowledged if n.isdigit()}
    return {
        "acknowledged": len(acknowledged),
        "stored": sum(stored.values()),
        "missing": sum(1 for n in numbers if n not in stored)
        + sum(1 for n in acknowledged if not n.isdigit()),
        "duplicated": sum(1 for count in stored.values() if count > 1)
        + len(acknowledged)
        - len(numbers),
        "unacknowledged": sum(1 for n in stored if n not in numbers),
    }


def drive(side: Side, connections: int, warmup: int, seconds: int, workdir: Path) -> dict:
    """Warm-up, then the measured run, with the same wrk script; then checks what was stored."""
    env = {**os.environ, **side.wrk_env}
    acks = workdir / "acknowledged"
    acks.mkdir()
    load = os.getloadavg()[0]
    with side.serve() as url:
        warm = warm_up(url, connections, warmup, env, acks)
        result = compare_pass(url, connections, seconds, env, WARMUP_ROUNDS, acks)
    check = stored_check(side.titles(), acks)
    result.update(
        server=side.name,
        database=side.database,
        workers=side.workers,
        load_average=round(load, 1),
        per_second=round(result["created"] / (result["duration_us"] / 1e6), 1),
        **check,
        stored_ok=check["missing"] == 0 and check["duplicated"] == 0,
        warmup_passes=len(warm),
        warmup_created=[p["created"] for p in warm],
        warmup_non_201=sum(p["non_201"] for p in warm),
    )
    return result


def ratio_lines(runs: list[dict]) -> list[dict]:
    """kesu/peer for each database and round: each kesu run against the peer's run beside it."""
    lines = []
    for run in runs:
        if run["server"] != "kesu":
            continue
        peer = next(
            (
                r
                for r in runs
                if r["server"] != "kesu"
                and r["database"] == run["database"]
                and r["round"] == run["round"]
            ),
            None,
        )
        if peer is None:
            continue
        lines.append(
            {
                "round": run["round"],
                "database": run["database"],
                "kesu_workers": run["workers"],
                "peer_workers": peer["workers"],
                "kesu_per_second": run["per_second"],
                "peer_per_second": peer["per_second"],
                "ratio": round(run["per_second"] / peer["per_second"], 2)
                if peer["per_second"]
                else None,
                "kesu_p50_ms": round(run["p50_us"] / 1000, 1),
                "kesu_p95_ms": round(run["p95_us"] / 1000, 1),
                "peer_p50_ms": round(peer["p50_us"] / 1000, 1),
                "peer_p95_ms": round(peer["p95_us"] / 1000, 1),
            }
        )
    return lines


def git_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True
        ).stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def bench_compare(args: argparse.Namespace) -> dict:
    """Both servers on each database, alternating the order from round to round."""
    venv = OUT / "peer-venv"
    freeze = harness.ensure_venv(venv, args.peer_version)
    workdir = OUT / "compare"
    shutil.rmtree(workdir, ignore_errors=True)
    runs: list[dict] = []
    meta: dict = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python benchmarks/run.py", *sys.argv[1:]]),
        "kesu": git_revision(),
        "peer": {
            k: freeze.get(k)
            for k in ("django-helpdesk", "Django", "djangorestframework", "gunicorn", "psycopg")
        },
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "wrk": f"wrk -t2 -c{args.connections} -d{args.seconds}s --timeout 10s -s compare.lua, "
        f"after a warm-up with the same script: passes of {args.warmup} s (longer when answers "
        f"are slower) until the rate is steady (2 to {WARMUP_ROUNDS} passes)",
    }

    def measure(make: Callable[[Path], Side], slug: str, number: int) -> None:
        here = workdir / f"r{number}-{slug}"
        here.mkdir(parents=True)
        result = drive(make(here), args.connections, args.warmup, args.seconds, here)
        result["round"] = number
        runs.append(result)
        print(table_row(result), flush=True)

    print(table_head(), flush=True)
    backends = [b for b in args.backends.split(",") if b]
    for number in range(1, args.rounds + 1):
        if "sqlite" in backends:
            plan = [
                ("kesu-sqlite-w2", lambda d: kesu_side(d, 2, None)),
                ("peer-sqlite-w2", lambda d: peer_side(venv, d, 2, None)),
            ]
            for slug, make in plan if number % 2 else plan[::-1]:
                measure(make, slug, number)
        if "postgresql" in backends:
            if pgcluster.bindir() is None:
                print("PostgreSQL is not installed: skipped (install-system-deps.sh --bench)")
                continue
            with pgcluster.cluster() as cluster:
                meta["postgresql"] = cluster.version()
                plan = [
                    ("kesu-pg-w2", lambda d: kesu_side(d, 2, cluster)),
                    ("kesu-pg-w4", lambda d: kesu_side(d, 4, cluster)),
                    ("peer-pg-w2", lambda d: peer_side(venv, d, 2, cluster)),
                ]
                for slug, make in plan if number % 2 else plan[::-1]:
                    measure(make, slug, number)
    meta["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ratios = ratio_lines(runs)
    medians = [
        {"database": database, "kesu_workers": workers, "median_ratio": median}
        for (database, workers), median in ratio_medians(ratios).items()
    ]
    return {"meta": meta, "runs": runs, "ratios": ratios, "median_ratios": medians}


def table_head() -> str:
    return (
        "| round | server | database | workers | created/s | p50 ms | p95 ms | p99 ms | "
        "non-201 | socket errors | acknowledged | stored | missing | duplicated | warm-up passes | "
        "load avg |\n|" + " --- |" * 16
    )


def table_row(run: dict) -> str:
    return (
        f"| {run['round']} | {run['server']} | {run['database']} | {run['workers']} | "
        f"{run['per_second']} | {ms(run['p50_us'])} | {ms(run['p95_us'])} | "
        f"{ms(run['p99_us'])} | {run['non_201']} | {run['socket_errors']} | "
        f"{run['acknowledged']} | {run['stored']} | {run['missing']} | {run['duplicated']} | "
        f"{run['warmup_passes']} | "
        f"{run['load_average']} |"
    )


def print_compare(compare: dict) -> None:
    meta = compare["meta"]
    peer = meta["peer"]
    print(
        f"\nkesu {meta['kesu']} vs django-helpdesk {peer['django-helpdesk']} (Django "
        f"{peer['Django']}, DRF {peer['djangorestframework']}, gunicorn {peer['gunicorn']} sync "
        f"workers), SQLite {meta['sqlite']} WAL"
        + (f", PostgreSQL {meta['postgresql']}" if "postgresql" in meta else "")
        + f"; {meta['cpus']} CPUs; {meta['started']} – {meta['finished']}"
    )
    print(f"`{meta['command']}`; each run: {meta['wrk']}")
    for line in compare["ratios"]:
        print(
            f"round {line['round']}, {line['database']}: kesu --workers {line['kesu_workers']} "
            f"{line['kesu_per_second']}/s (p50 {line['kesu_p50_ms']} ms, p95 "
            f"{line['kesu_p95_ms']} ms) / django-helpdesk {line['peer_workers']} workers "
            f"{line['peer_per_second']}/s (p50 {line['peer_p50_ms']} ms, p95 "
            f"{line['peer_p95_ms']} ms) = {line['ratio']}×"
        )
    rounds = {line["round"] for line in compare["ratios"]}
    if len(rounds) > 1:
        for (database, workers), ratios in ratio_medians(compare["ratios"]).items():
            print(
                f"median over {len(rounds)} rounds, {database}, kesu --workers {workers}: {ratios}×"
            )


def ratio_medians(lines: list[dict]) -> dict[tuple[str, int], float]:
    grouped: dict[tuple[str, int], list[float]] = {}
    for line in lines:
        if line["ratio"] is not None:
            grouped.setdefault((line["database"], line["kesu_workers"]), []).append(line["ratio"])
    return {key: round(statistics.median(values), 2) for key, values in grouped.items()}


def ms(us: int) -> str:
    return f"{us / 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["compare", "create", "scale"])
    parser.add_argument("--warmup", type=int, default=3, help="compare: warm-up pass seconds")
    parser.add_argument("--rounds", type=int, default=1, help="compare: rounds, order alternating")
    parser.add_argument("--connections", type=int, default=16, help="compare: wrk -c")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="compare: sqlite, postgresql or both"
    )
    parser.add_argument("--peer-version", default=harness.HELPDESK_VERSION)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    report: dict = {"cpus": os.cpu_count()}
    if args.only in (None, "compare"):
        report["compare"] = compare = bench_compare(args)
        print_compare(compare)
    if args.only in (None, "create"):
        report["create"] = create = bench_create(args.seconds)
        print(
            f"create: {create['per_second']}/s, p50 {ms(create['p50_us'])} ms, "
            f"p95 {ms(create['p95_us'])} ms, p99 {ms(create['p99_us'])} ms, "
            f"non-201 {create['non_201']}, rows {create['rows_in_database']} "
            f"(requests {create['requests']})"
        )
    if args.only in (None, "scale"):
        report["scale"] = runs = bench_scale(args.small, args.large, max(5, args.seconds // 2))
        for run in runs:
            print(f"\n{run['label']} (demo load {run['demo_seconds']}s)")
            for name, result in run["results"].items():
                rate = result["requests"] / (result["duration_us"] / 1e6)
                print(
                    f"  {name:28s} p50 {ms(result['p50_us']):>7} ms  p95 "
                    f"{ms(result['p95_us']):>7} ms  {rate:7.0f} req/s  non-200 "
                    f"{result['non_200']}"
                )
    (OUT / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
