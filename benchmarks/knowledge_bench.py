"""Knowledge search and complaint-page suggestions at 100,000 articles (not a timed test).

Fills a database with N generated articles (text built from kesu/demo_text.py's phrase bank:
phenomena by category, findings, solutions, measures; kinds and categories at random, 90 %
published), segmented and indexed exactly as the service does (``tokens_of`` +
``search.store_many``), then times, one call at a time after a short warm-up:

- ``service.find`` (what ``GET /api/v1/knowledge/search?q=`` and /knowledge run) for random
  one- and two-word queries, as an agent (published only) and as a team lead (every status);
- ``service.suggestions`` (the complaint page's card) for random complaints of the database:
  the complaint row is read by id, its category chain and top words computed, then the
  bounded article queries run. Nothing else touches the complaints table, so its size does
  not enter the cost; run it on a database made by ``kesu demo --complaints 1000000`` to
  measure that claim.

Usage:
  python benchmarks/knowledge_bench.py --db /tmp/kesu-knowledge-bench/kesu-1m.db
      [--articles 100000] [--queries 300] [--backend sqlite|postgresql]
On PostgreSQL a throw-away server is started (as the tests do) and filled with the articles
and ``--pg-complaints`` demo complaints. Results go to bench-results/knowledge/.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kesu import demo_text  # noqa: E402
from kesu.accounts.models import User  # noqa: E402
from kesu.clock import SystemClock  # noqa: E402
from kesu.complaints.models import Complaint  # noqa: E402
from kesu.db import Database  # noqa: E402
from kesu.knowledge import search, service  # noqa: E402
from kesu.knowledge.models import Article  # noqa: E402
from kesu.migrate import upgrade  # noqa: E402
from kesu.taxonomy.models import Category  # noqa: E402

OUT = ROOT / "bench-results" / "knowledge"
QUERY_WORDS = [
    "电池",
    "续航",
    "退款",
    "到账",
    "屏幕",
    "发热",
    "物流",
    "延误",
    "换货",
    "维修",
    "划痕",
    "异味",
    "包装",
    "开机",
    "卡顿",
    "快递",
    "优惠券",
    "补偿",
    "质检",
    "工程师",
    "过敏",
    "色差",
    "丢失",
    "安装",
    "说明书",
    "客服",
    "发货",
    "预售",
    "漏液",
    "型号",
]


def _fill(template: str, rng: random.Random) -> str:
    products = [p for group in demo_text.PRODUCTS.values() for p in group]
    return template.format(p=rng.choice(products), d=rng.randint(2, 30), n=rng.randint(10, 500))


@lru_cache(maxsize=200_000)
def _line_tokens(line: str) -> tuple[str, ...]:
    return tuple(search.index_tokens(line))


def generate(db: Database, count: int, seed: int = 7, batch: int = 2000) -> float:
    """Adds articles until there are ``count``; returns the seconds it took."""
    rng = random.Random(seed)
    started = time.perf_counter()
    with db.session() as session:
        have = session.scalar(select(func.count()).select_from(Article)) or 0
        leaves = {
            c.name: c.id for c in session.scalars(select(Category).where(Category.level == 3))
        }
        all_ids = list(leaves.values())
    phrases = [(leaf, p) for leaf, ps in demo_text.PHRASES.items() for p in ps]
    kinds = list(service.KINDS)
    now = SystemClock().now()
    made = have
    while made < count:
        rows = []
        for _ in range(min(batch, count - made)):
            leaf, phrase = rng.choice(phrases)
            title = _fill(phrase, rng)[:60]
            body = "\n".join(
                [
                    _fill(rng.choice(phrases)[1], rng) + "。",
                    "调查：" + rng.choice(demo_text.FINDINGS) + "。",
                    "方案：" + rng.choice(demo_text.SOLUTIONS) + "。",
                    "措施：" + rng.choice(demo_text.MEASURES) + "。",
                    rng.choice(demo_text.RESULTS) + "。",
                ]
            )
            article = Article(
                kind=rng.choice(kinds),
                status="published" if rng.random() < 0.9 else "draft",
                title=title,
                body=body,
                category_id=leaves.get(leaf) or rng.choice(all_ids),
                tags=[],
                product_models=[],
                error_codes=[],
            )
            # = search.joined(service.tokens_of(article)): jieba cuts at newlines and
            # punctuation anyway, so each distinct line is segmented once (_line_tokens).
            tokens = search.joined(
                [t for line in [title, *body.split("\n")] for t in _line_tokens(line)]
                + [search.category_marker(article.category_id)]
            )
            rows.append(
                {
                    "kind": article.kind,
                    "status": article.status,
                    "title": title,
                    "body": body,
                    "category_id": article.category_id,
                    "tags": [],
                    "product_models": [],
                    "error_codes": [],
                    "search_tokens": tokens,
                    "version": 1,
                    "views": 0,
                    "inserts": 0,
                    "helpful": 0,
                    "unhelpful": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with db.session() as session:
            first = (session.scalar(select(func.max(Article.id))) or 0) + 1
            session.execute(insert(Article), rows)
            search.store_many(
                session, [(first + i, row["search_tokens"]) for i, row in enumerate(rows)]
            )
            session.commit()
        made += len(rows)
        print(f"  {made} articles", file=sys.stderr, end="\r")
    db.analyze()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


def _user(session: Any, role: str) -> User:
    user = session.scalar(select(User).where(User.role == role, User.is_active).limit(1))
    if user is None:
        raise SystemExit(f"no {role} user: run `kesu demo` on the database first")
    session.expunge(user)
    return user


def time_search(db: Database, role: str, queries: list[str]) -> tuple[dict[str, Any], float]:
    with db.session(write=False) as session:
        user = _user(session, role)
    wall: list[float] = []
    cpu: list[float] = []
    found = 0
    for i, q in enumerate(queries):
        with db.session(write=False) as session:
            started, cpu_started = time.perf_counter(), time.process_time()
            hits = service.find(session, user, q)
            elapsed = (time.perf_counter() - started) * 1000
            cpu_elapsed = (time.process_time() - cpu_started) * 1000
        if i >= 10:  # warm-up
            wall.append(elapsed)
            cpu.append(cpu_elapsed)
            found += len(hits)
    return {**summary(wall), "cpu": summary(cpu)}, found / max(1, len(wall))


def time_suggestions(
    db: Database, count: int, rng: random.Random
) -> tuple[dict[str, Any], float, int]:
    with db.session(write=False) as session:
        user = _user(session, "agent")
        top = session.scalar(select(func.max(Complaint.id))) or 0
    if not top:
        raise SystemExit("no complaints: run `kesu demo --complaints N` first")
    wall: list[float] = []
    cpu: list[float] = []
    shown = 0
    for i in range(count + 10):
        with db.session(write=False) as session:
            started, cpu_started = time.perf_counter(), time.process_time()
            complaint = session.get(Complaint, rng.randint(1, top))
            if complaint is None:
                continue
            hits = service.suggestions(session, user, complaint)
            elapsed = (time.perf_counter() - started) * 1000
            cpu_elapsed = (time.process_time() - cpu_started) * 1000
        if i >= 10:
            wall.append(elapsed)
            cpu.append(cpu_elapsed)
            shown += len(hits)
    return {**summary(wall), "cpu": summary(cpu)}, shown / max(1, len(wall)), top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/kesu-knowledge-bench/kesu.db"))
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-complaints", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(2026)
    pg = None
    if args.backend == "sqlite":
        db = Database(f"sqlite:///{args.db}")
        upgrade(db, SystemClock())
    else:
        import os
        import subprocess

        from tests.pg import start_postgres

        pg = start_postgres()
        if pg is None:
            raise SystemExit("PostgreSQL is not installed here")
        url = pg.url()
        env = {**os.environ, "KESU_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        kesu = Path(sys.executable).parent / "kesu"
        subprocess.run(
            [str(kesu), "demo", "--complaints", str(args.pg_complaints)], check=True, env=env
        )
        db = Database(url)
    try:
        fill = generate(db, args.articles)
        words = QUERY_WORDS
        queries = [
            rng.choice(words) if rng.random() < 0.6 else f"{rng.choice(words)} {rng.choice(words)}"
            for _ in range(args.queries + 10)
        ]
        with db.session(write=False) as session:
            articles = session.scalar(select(func.count()).select_from(Article))
        agent, agent_hits = time_search(db, "agent", queries)
        lead, lead_hits = time_search(db, "team_lead", queries)
        suggest, shown, complaints = time_suggestions(db, args.queries, rng)
        result = {
            "backend": args.backend,
            "articles": articles,
            "complaints": complaints,
            "fill_seconds": round(fill, 1),
            "search_agent": {**agent, "hits_per_query": round(agent_hits, 1)},
            "search_lead": {**lead, "hits_per_query": round(lead_hits, 1)},
            "suggestions": {**suggest, "shown_per_complaint": round(shown, 1)},
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"results-{args.backend}.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=2)
        )
    finally:
        db.dispose()
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
