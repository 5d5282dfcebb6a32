"""`make bench`: HTTP benchmarks of kesu against real `kesu serve` processes, driven by wrk.

1. Complaint creation: POST /api/v1/complaints at concurrency 16 on SQLite, `--workers 2`.
2. List latency: the list endpoint (several filters) and the workbench page with 10,000 and
   then 1,000,000 complaints in the database.

Results are printed as a table and written to bench-results/results.json.
Usage: python benchmarks/run.py [--large 1000000] [--small 10000] [--seconds 20] [--only create]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
OUT = ROOT / "bench-results"
KESU = str(Path(sys.executable).parent / "kesu")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kesu(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([KESU, *args], env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip()


@contextmanager
def server(env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("kesu serve did not start")
        time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def bench_create(seconds: int) -> dict:
    workdir = OUT / "create"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = environment(workdir)
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
    env["KESU_BENCH_TOKEN"] = kesu(env, "token", "create", "--user", "bench").splitlines()[-1]
    with server(env, workers=2) as base:
        wrk("create.lua", base, 16, 3, env)  # warm-up
        result = wrk("create.lua", base, 16, seconds, env)
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


def ms(us: int) -> str:
    return f"{us / 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["create", "scale"])
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    report: dict = {"cpus": os.cpu_count()}
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
