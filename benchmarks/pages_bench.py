"""The pages an agent waits for, under load, at 10,000 and 1,000,000 complaints (issue 13).

For each database given (a COPY: the server writes sessions, audit rows and statistics to
it) this starts a real ``kesu serve --workers 2``, measures the start-up (process start →
the first 200 of the login page, of the workbench and of a complaint page; the first
complaint pages are sent four at once so both processes answer one), signs in as an agent,
a manager and an admin through the login form, and drives every page with
``wrk -t2 -c4`` (four concurrent users holding the session cookie). Each page rotates over
several URLs of its kind (other complaints, phones, order numbers) taken from the database,
so no answer is a cached repeat. After the load it reads each server process's memory from
/proc (RSS, PSS, private).

    python benchmarks/pages_bench.py --db /work/bdb/pages/10k/kesu.db --label 10k \\
        --db /work/bdb/pages/1m/kesu.db --label 1M --seconds 10

``--pythonpath DIR`` serves the code of another checkout (A/B against the old code on the
same database). Results: a Markdown table on stdout and ``bench-results/pages/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-results" / "pages"
PASSWORD = "kesu-demo-2026"  # the demo's staff password (kesu demo)
AGENT, MANAGER, ADMIN = "agent_service_1", "manager", "admin"
SAMPLES = 20  # URLs per page kind

# wrk: rotate over the paths in KESU_BENCH_PATHS ("|"-separated), one per request.
LUA = r"""
local cookie = os.getenv("KESU_BENCH_COOKIE")
local paths = {}
for p in string.gmatch(os.getenv("KESU_BENCH_PATHS"), "[^|]+") do table.insert(paths, p) end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; i = math.random(#paths) end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Cookie"] = cookie})
end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do total_bad = total_bad + t:get("bad") end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non_200":%d,"p50_us":%d,"p95_us":%d,' ..
    '"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, total_bad, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass
class Page:
    name: str
    user: str
    paths: list[str]
    result: dict[str, Any] = field(default_factory=dict)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(db: Path, pythonpath: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KESU_DATABASE_URL=f"sqlite:///{db}",
        KESU_DATA_DIR=str(db.parent),
        KESU_ENVIRONMENT="development",
        PYTHONPATH=pythonpath,
    )
    return env


# ---- the URLs, from the database -----------------------------------------------------------


def sample_pages(db: Path, rng: random.Random) -> list[Page]:
    """Every page kind with SAMPLES URLs each, for the agent, the manager and the admin."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    one = con.execute
    agent_id, agent_team = one(
        "SELECT id, team_id FROM users WHERE username = ?", (AGENT,)
    ).fetchone()
    team_code = one("SELECT code FROM teams WHERE id = ?", (agent_team,)).fetchone()[0]
    other_teams = [r[0] for r in one("SELECT code FROM teams WHERE id != ?", (agent_team,))]
    scope = "(team_id IS NULL OR team_id = ? OR assignee_id = ?)"
    top = one("SELECT max(id) FROM complaints").fetchone()[0]

    def complaints(where: str, args: tuple[Any, ...], columns: str) -> list[tuple[Any, ...]]:
        # random ids below the top, then the next matching row: spread over the whole table
        rows: list[tuple[Any, ...]] = []
        for _ in range(SAMPLES * 3):
            start = rng.randint(1, top)
            row = one(
                f"SELECT {columns} FROM complaints WHERE id >= ? AND {where} ORDER BY id LIMIT 1",
                (start, *args),
            ).fetchone()
            if row and all(v not in (None, "") for v in row):
                rows.append(row)
            if len(rows) == SAMPLES:
                break
        return rows

    mine = complaints(scope, (agent_team, agent_id), "number, contact_phone, order_no")
    anyone = complaints("1 = 1", (), "number, contact_phone, order_no")
    stages = [r[0] for r in one("SELECT code FROM stages WHERE category != 'closed'")]
    con.close()

    def each(template: str, values: list[Any]) -> list[str]:
        return [template.format(v) for v in values]

    from urllib.parse import quote

    open_stages = [stages[i % len(stages)] for i in range(SAMPLES)]
    return [
        # the agent (team + pool + own)
        Page("mine", AGENT, ["/", "/?sort=due", "/?sort=-received"]),
        Page("team queue", AGENT, ["/?tab=team", "/?tab=team&sort=due"]),
        Page("pool (unassigned)", AGENT, ["/?tab=team&unassigned=1"]),
        Page("overdue, mine", AGENT, ["/?overdue=1"]),
        Page("overdue, team", AGENT, ["/?tab=team&overdue=1"]),
        Page("team= own team", AGENT, [f"/?tab=team&team={team_code}"]),
        Page("team= other teams", AGENT, each("/?tab=team&team={}", other_teams)),
        Page("stage=", AGENT, each("/?tab=team&stage={}", open_stages)),
        Page("q= phone", AGENT, each("/?tab=team&q={}", [r[1] for r in mine])),
        Page("q= order number", AGENT, each("/?tab=team&q={}", [quote(r[2]) for r in mine])),
        Page("q= complaint number", AGENT, each("/?tab=team&q={}", [r[0] for r in mine])),
        Page("complaint page", AGENT, each("/complaints/{}", [r[0] for r in mine])),
        # the manager (everything)
        Page("all, open", MANAGER, ["/?tab=all", "/?tab=all&sort=due"]),
        Page("all, closed", MANAGER, ["/?tab=all&status=closed", "/?tab=all&status=any"]),
        Page("overdue, all", MANAGER, ["/?tab=all&overdue=1"]),
        Page("team=", MANAGER, each("/?tab=all&team={}", [team_code, *other_teams])),
        Page("stage=", MANAGER, each("/?tab=all&stage={}", open_stages)),
        Page("q= phone", MANAGER, each("/?tab=all&status=any&q={}", [r[1] for r in anyone])),
        Page("complaint page", MANAGER, each("/complaints/{}", [r[0] for r in anyone])),
        # the admin
        Page("category admin", ADMIN, ["/admin/categories"]),
    ]


# ---- the server -----------------------------------------------------------------------------


@contextmanager
def server(env: dict[str, str], workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    command = [sys.executable, "-m", "kesu.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=env["PYTHONPATH"],  # `-m` puts the working directory first on sys.path
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def login(base: str, username: str) -> str:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        data = {"username": username, "password": PASSWORD}
        data["csrf_token"] = token.group(1) if token else ""
        answer = client.post("/login", data=data)
        cookie = client.cookies.get("kesu")
        if answer.status_code not in (302, 303) or not cookie:
            raise RuntimeError(f"cannot sign in as {username}: {answer.status_code}")
        return f"kesu={cookie}"


def start_up(base: str, started: float, pages: list[Page], limit: float) -> dict[str, Any]:
    """Process start → first 200s; the first complaint pages four at once (both processes)."""
    figures: dict[str, Any] = {}
    while True:
        try:
            if httpx.get(base + "/login", timeout=30).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > limit:
            raise RuntimeError("kesu serve did not start")
        time.sleep(0.02)
    figures["first_login_page_s"] = round(time.perf_counter() - started, 2)
    cookie = login(base, AGENT)
    headers = {"Cookie": cookie}
    t = time.perf_counter()
    httpx.get(base + "/", headers=headers, timeout=60).raise_for_status()
    figures["first_workbench_ms"] = round((time.perf_counter() - t) * 1000)
    figures["start_to_workbench_s"] = round(time.perf_counter() - started, 2)
    detail = next(p for p in pages if p.name == "complaint page" and p.user == AGENT)
    times: list[float] = []

    def fetch(path: str) -> None:
        t0 = time.perf_counter()
        httpx.get(base + path, headers=headers, timeout=60).raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=fetch, args=(p,)) for p in detail.paths[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures["first_complaint_pages_ms"] = sorted(round(x) for x in times)
    figures["start_to_complaint_page_s"] = round(time.perf_counter() - started, 2)
    return figures


def wrk(base: str, page: Page, cookie: str, seconds: int, connections: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    env = {**os.environ, "KESU_BENCH_COOKIE": cookie, "KESU_BENCH_PATHS": "|".join(page.paths)}
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", script.name, base + page.paths[0]]
    try:
        output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    finally:
        os.unlink(script.name)
    match = re.search(r"RESULT (\{.*\})", output.stdout)
    if not match:
        raise RuntimeError(output.stdout + output.stderr)
    result: dict[str, Any] = json.loads(match.group(1))
    result["load"] = load_average()
    return result


def memory(pid: int) -> dict[str, int]:
    """kB of RSS, PSS (shared pages divided among the processes mapping them) and private."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Anonymous"):
            values[key] = int(rest.split()[0])
    return {
        "rss_mb": values["Rss"] // 1024,
        "pss_mb": values["Pss"] // 1024,
        "private_mb": (values["Private_Clean"] + values["Private_Dirty"]) // 1024,
        "anonymous_mb": values["Anonymous"] // 1024,
    }


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(x) for x in text)
    return found


def run(db: Path, label: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(13)
    pages = sample_pages(db, rng)
    env = environment(db, args.pythonpath)
    report: dict[str, Any] = {"label": label, "db": str(db), "load_before": load_average()}
    started = time.perf_counter()
    with server(env, args.workers) as (base, process):
        report["start"] = start_up(base, started, pages, args.start_timeout)
        cookies = {user: login(base, user) for user in (AGENT, MANAGER, ADMIN)}
        for page in pages:
            page.result = wrk(base, page, cookies[page.user], args.seconds, args.connections)
            print(
                f"  {label:>5} {page.user:<16} {page.name:<22} p50 "
                f"{page.result['p50_us'] / 1000:7.1f}  p95 {page.result['p95_us'] / 1000:7.1f} ms"
                f"  ({page.result['requests']} requests, {page.result['non_200']} non-200, "
                f"load {page.result['load']})",
                file=sys.stderr,
                flush=True,
            )
        report["memory"] = {str(pid): memory(pid) for pid in children(process.pid)}
    report["pages"] = [
        {"name": p.name, "user": p.user, "paths": p.paths[:3], **p.result} for p in pages
    ]
    report["load_after"] = load_average()
    return report


def table(reports: list[dict[str, Any]]) -> str:
    labels = [r["label"] for r in reports]
    head = "| user | page | " + " | ".join(f"{x} p50 / p95 ms" for x in labels) + " |"
    lines = [head, "|" + " --- |" * (2 + len(labels))]
    for i, page in enumerate(reports[0]["pages"]):
        cells = []
        for report in reports:
            p = report["pages"][i]
            bad = f" ({p['non_200']} non-200)" if p["non_200"] else ""
            cells.append(f"{p['p50_us'] / 1000:.1f} / {p['p95_us'] / 1000:.1f}{bad}")
        lines.append(f"| {page['user']} | {page['name']} | " + " | ".join(cells) + " |")
    lines.append("")
    for report in reports:
        s = report["start"]
        mem = ", ".join(
            f"RSS {m['rss_mb']} MB (PSS {m['pss_mb']}, private {m['private_mb']})"
            for m in report["memory"].values()
        )
        lines.append(
            f"- {report['label']}: start → first 200 of /login {s['first_login_page_s']} s, "
            f"first workbench {s['first_workbench_ms']} ms (start → it "
            f"{s['start_to_workbench_s']} s), first complaint pages (4 at once) "
            f"{s['first_complaint_pages_ms']} ms; per process after the load: {mem}; "
            f"load average {report['load_before']} → {report['load_after']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, action="append", required=True, help="a COPY")
    parser.add_argument("--label", action="append", help="one per --db")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--start-timeout", type=float, default=600, help="seconds")
    parser.add_argument("--pythonpath", default=str(ROOT), help="the code to serve")
    parser.add_argument("--name", default="pages", help="bench-results/pages/<name>.json")
    args = parser.parse_args()
    labels = args.label or [db.parent.name for db in args.db]
    reports = [run(db.resolve(), label, args) for db, label in zip(args.db, labels, strict=True)]
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {"command": " ".join(sys.argv), "code": args.pythonpath, "reports": reports}
    (OUT / f"{args.name}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False))
    print(table(reports))


if __name__ == "__main__":
    main()
