"""Search over HTTP: ``GET /api/v1/complaints?q=…`` by free-text word (rare, absent, common),
phone, phone prefix, email, name, order number and complaint number, and the entry form's
``GET /api/v1/customers/lookup``, against a real ``kesu serve`` on an existing database
(e.g. a ``kesu demo --complaints N``).

Usage:
  KESU_DATABASE_URL=sqlite:////tmp/kesu-1m.db python benchmarks/search_bench.py \
      [--requests 300] [--workers 1] [--kinds rare,absent,common,phone,name,order]

The words (issue 13), with ``--words-file`` made once and reused so an A/B (``--code`` the
old checkout) asks both sides the same: from the full-text index when the database has one
(``rare``: Chinese terms of 1–200 complaints, ``common``: the 30 terms of the most), else
from the texts of 3,000 random complaints cut into words (``rare``: words of one sampled
complaint only, ``common``: of the most); ``absent``: pairs of words no complaint is about
(恐龙 化石). The index's document counts of the words are printed when it exists.

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
import json
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
WORDS = ("rare", "absent", "common")
ABSENT = [  # words of no complaint, asked in pairs
    "恐龙",
    "化石",
    "甲骨文",
    "青铜器",
    "火星",
    "探测器",
    "量子",
    "纠缠",
    "敦煌",
    "壁画",
    "长城",
    "烽火台",
    "熊猫",
    "竹林",
    "冰川",
    "极光",
    "火山",
    "熔岩",
    "珊瑚",
    "潜艇",
    "天文台",
    "彗星",
    "古琴",
    "书法",
    "京剧",
    "脸谱",
    "篆刻",
    "砚台",
    "编钟",
    "陶俑",
]


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
def server(workers: int, code: str | None = None) -> Iterator[str]:
    """``kesu serve`` on the database; ``code``: the checkout it runs (an A/B against the old
    code on the same database), else this one."""
    port = free_port()
    env = {**os.environ, "KESU_ENVIRONMENT": "development"}
    if code:  # `python -m` puts the working directory first on sys.path: run it there
        env["PYTHONPATH"] = code
    command = [sys.executable, "-m", "kesu.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=code or None)
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


def words(db: Database, seed: int, sample: int = 3000) -> dict[str, list[str]]:
    """Free-text words by how many sampled complaints have them (see the module's text)."""
    from collections import Counter

    from kesu.search.fulltext import query_tokens

    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    with db.session(write=False) as session:
        top = session.scalar(select(func.max(Complaint.id))) or 0
        ids = [rng.randrange(1, top + 1) for _ in range(sample)]
        for chunk in range(0, len(ids), 500):
            rows = session.execute(
                select(Complaint.title, Complaint.content).where(
                    Complaint.id.in_(ids[chunk : chunk + 500])
                )
            )
            for title, content in rows:
                text = f"{title} {content}"
                seen.update({t for t in query_tokens(text, limit=10_000) if len(t) >= 2})
    han = [w for w in seen if any("\u4e00" <= ch <= "\u9fff" for ch in w)]
    rare = sorted(w for w in han if seen[w] == 1)
    common = sorted(han, key=lambda w: -seen[w])[:30]
    rng.shuffle(rare)
    absent = [" ".join(rng.sample(ABSENT, 2)) for _ in range(300)]
    return {"rare": rare[:300] or ["无"], "common": common, "absent": absent}


def words_from_index(db: Database, seed: int) -> dict[str, list[str]] | None:
    """Rare words from the full-text index itself (SQLite: 1–200 complaints each), common
    ones (the most complaints), absent pairs; None when the database has no index."""
    from sqlalchemy import text

    rng = random.Random(seed)
    try:
        with db.session(write=False) as session:
            terms = session.execute(
                text("SELECT term, doc FROM complaints_fts_vocab WHERE doc <= 200")
            ).all()
            common = session.execute(
                text("SELECT term FROM complaints_fts_vocab ORDER BY doc DESC LIMIT 200")
            ).scalars()
            common_han = [t for t in common if any("\u4e00" <= ch <= "\u9fff" for ch in t)]
            rare = sorted(
                t for t, _ in terms if len(t) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in t)
            )
            rng.shuffle(rare)
            # a word, not somebody's name (a name is looked up on the name indexes)
            named = set(
                session.scalars(
                    select(Complaint.contact_name)
                    .where(Complaint.contact_name.in_(rare[:3000]))
                    .distinct()
                )
            )
            rare = [t for t in rare[:3000] if t not in named]
    except Exception:
        return None
    absent = [" ".join(rng.sample(ABSENT, 2)) for _ in range(300)]
    return {"rare": rare[:300], "common": common_han[:30], "absent": absent}


def document_counts(db: Database, values: list[str]) -> str:
    """Median and max complaints per word in the full-text index (when it exists)."""
    from kesu.search import matching

    try:
        with db.session(write=False) as session:
            counts = sorted(matching.estimate(session, v).matches for v in values)
    except Exception:
        return "n/a"
    return f"{statistics.median(counts):.0f} / {counts[-1]:.0f}"


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
    parser.add_argument(
        "--kinds", default=",".join((*WORDS, *KINDS, "lookup")), help="comma-separated"
    )
    parser.add_argument("--code", help="the checkout the server runs (default: this one)")
    parser.add_argument(
        "--words-file",
        help="the words asked, kept in this JSON file (made on the first run: from the "
        "full-text index when the database has one, else from sampled texts), so an A/B "
        "asks both sides the same words",
    )
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    db = Database(get_settings().database_url)
    with db.session(write=False) as session:
        total = session.scalar(select(func.count()).select_from(Complaint))
    values = samples(db, min(args.requests, 300), args.seed)
    if any(k in WORDS for k in kinds):
        chosen: dict[str, list[str]] | None = None
        if args.words_file and os.path.exists(args.words_file):
            with open(args.words_file, encoding="utf-8") as f:
                chosen = json.load(f)
        if chosen is None:
            chosen = words_from_index(db, args.seed) or words(db, args.seed)
            if args.words_file:
                with open(args.words_file, "w", encoding="utf-8") as f:
                    json.dump(chosen, f, ensure_ascii=False)
        values |= chosen
        for kind in WORDS:
            print(
                f"{kind}: e.g. {values[kind][:3]}; indexed complaints per word (median / max): "
                f"{document_counts(db, values[kind])}"
            )
    db.dispose()
    tokens = {
        "manager": cli("token", "create", "--user", "manager").splitlines()[-1],
        "agent": cli("token", "create", "--user", args.agent).splitlines()[-1],
    }
    print(
        f"{total:,} complaints; {get_settings().database_url.split(':')[0]}; "
        f"server code {args.code or 'this checkout'}; "
        f"load average before {os.getloadavg()[0]:.2f}"
    )
    print("| who | search | p50 ms | p95 ms | max ms | rows (avg) |")
    print("| --- | --- | --- | --- | --- | --- |")
    with server(args.workers, args.code) as base:
        for who, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                client.get("/api/v1/complaints", params={"limit": 1})  # warm the process
                client.get("/api/v1/complaints", params={"q": "你好", "limit": 1})  # jieba
                for kind in (k for k in kinds if k != "lookup"):
                    r = measure(client, "/api/v1/complaints", values[kind], args.requests, "q")
                    print(
                        f"| {who} | q={kind} | {r['p50']:.1f} | {r['p95']:.1f} | "
                        f"{r['max']:.1f} | {r['rows']:.1f} |"
                    )
                if "lookup" not in kinds:
                    continue
                phones = values["phone"]
                r = measure(client, "/api/v1/customers/lookup", phones, args.requests, "phone")
                print(
                    f"| {who} | lookup?phone= | {r['p50']:.1f} | {r['p95']:.1f} | "
                    f"{r['max']:.1f} | {r['rows']:.1f} |"
                )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
