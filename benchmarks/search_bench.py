"""Contact search over HTTP: ``GET /api/v1/complaints?q=…`` by phone, phone prefix, email, name,
order number and complaint number, and the entry form's ``GET /api/v1/customers/lookup``,
against a real ``kesu serve`` on an existing database (e.g. a ``kesu demo --complaints N``).

Usage:
  KESU_DATABASE_URL=sqlite:////tmp/kesu-1m.db python benchmarks/search_bench.py \
      [--requests 300] [--workers 1]

Each kind is asked ``--requests`` times, one request after the other (no concurrency), each
time for another value sampled from random complaints (so the page cache is not one row's);
as a manager (all complaints: one query per search) and as an agent (team, pool and own:
three). ``phone9`` / ``phone7`` are prefixes of 9 and 7 digits: the demo numbers its customers'
phones in sequence (``1X`` + the customer id), so a 7-digit prefix there matches about a seventh
of all customers below 100,000: a worst case, not a typical one. Prints p50 / p95 / max in
ms and the average number of rows found, plus the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import func, select

from kesu.complaints.models import Complaint
from kesu.config import get_settings
from kesu.db import Database

KINDS = ("phone", "phone9", "phone7", "email", "name", "order", "number")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kesu.cli", *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@contextmanager
def server(workers: int) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "KESU_ENVIRONMENT": "development"}
    command = [sys.executable, "-m", "kesu.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("kesu serve did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def samples(db: Database, count: int, seed: int) -> dict[str, list[str]]:
    """Values of ``count`` random complaints for each kind of search."""
    rng = random.Random(seed)
    found: dict[str, list[str]] = {k: [] for k in KINDS}
    with db.session(write=False) as session:
        top = session.scalar(select(func.max(Complaint.id))) or 0
        tries = 0
        while len(found["number"]) < count and tries < count * 20:
            tries += 1
            c = session.get(Complaint, rng.randrange(1, top + 1))
            if c is None or not (c.contact_phone and c.contact_email and c.order_no):
                continue
            found["phone"].append(c.contact_phone)
            found["phone9"].append(c.contact_phone[:9])
            found["phone7"].append(c.contact_phone[:7])
            found["email"].append(c.contact_email)
            found["name"].append(c.contact_name or c.customer.name)
            found["order"].append(c.order_no)
            found["number"].append(c.number)
    return found


def measure(client: httpx.Client, url: str, values: list[str], requests: int, param: str) -> dict:
    times, rows = [], []
    for i in range(requests):
        started = time.perf_counter()
        response = client.get(url, params={param: values[i % len(values)], "limit": 50})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url} {response.status_code}: {response.text[:200]}")
        body: Any = response.json()
        rows.append(len(body.get("items", body.get("customers", []))))
        times.append(elapsed)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[math.ceil(len(times) * 0.95) - 1],
        "max": times[-1],
        "rows": statistics.mean(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--agent", default="agent_service_1")
    args = parser.parse_args()
    db = Database(get_settings().database_url)
    with db.session(write=False) as session:
        total = session.scalar(select(func.count()).select_from(Complaint))
    values = samples(db, min(args.requests, 300), args.seed)
    db.dispose()
    tokens = {
        "manager": cli("token", "create", "--user", "manager").splitlines()[-1],
        "agent": cli("token", "create", "--user", args.agent).splitlines()[-1],
    }
    print(
        f"{total:,} complaints; {get_settings().database_url.split(':')[0]}; "
        f"load average before {os.getloadavg()[0]:.2f}"
    )
    print("| who | search | p50 ms | p95 ms | max ms | rows (avg) |")
    print("| --- | --- | --- | --- | --- | --- |")
    with server(args.workers) as base:
        for who, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                client.get("/api/v1/complaints", params={"limit": 1})  # warm the process
                for kind in KINDS:
                    r = measure(client, "/api/v1/complaints", values[kind], args.requests, "q")
                    print(
                        f"| {who} | q={kind} | {r['p50']:.1f} | {r['p95']:.1f} | "
                        f"{r['max']:.1f} | {r['rows']:.1f} |"
                    )
                phones = values["phone"]
                r = measure(client, "/api/v1/customers/lookup", phones, args.requests, "phone")
                print(
                    f"| {who} | lookup?phone= | {r['p50']:.1f} | {r['p95']:.1f} | "
                    f"{r['max']:.1f} | {r['rows']:.1f} |"
                )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
