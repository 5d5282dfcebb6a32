"""Repeat detection (重复投诉): precision and recall on generated complaint pairs.

Pairs are built from the demo phrase bank (kesu/demo_text.py: two phrasings per complaint
topic) with our own openers, fillers and follow-ups, and, unless --no-reviews, a short
unrelated sentence from the review corpora in /work/shared/data/reviews as noise (read at
run time, never stored). Two sets that share nothing but the generator:

- tuning: seed 11, the even-numbered topics; text similarity alone, a threshold sweep;
- held-out: seed 29, the odd-numbered topics; the whole detector end to end (a migrated
  SQLite database, both complaints registered through ``registration.create_complaint``,
  the clock and ``received_at`` placing them in or out of the window), at the threshold in
  ``kesu.complaints.repeats.DEFAULT_THRESHOLD``.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/repeat_bench.py tune
    PYTHONPATH=$PWD .venv/bin/python benchmarks/repeat_bench.py heldout [--per-kind 60]
    PYTHONPATH=$PWD .venv/bin/python benchmarks/repeat_bench.py indexcost [--per-kind 200]

``indexcost``: the write cost of migration 0014's two indexes on ``complaints``: the same
registrations into two SQLite databases, one with and one without them, interleaved in
rounds of 20, alternating which goes first, after a warm-up (milliseconds per
registration, median over rounds).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kesu import demo_text as words

TUNING_SEED, HELDOUT_SEED = 11, 29
REVIEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reviews" / "waimai_10k.csv"
FOLLOW_UPS = ["", "上次反映的问题还没解决，", "又来投诉了，", "之前投诉过一次，", "再说一遍，"]
FILLERS = [
    "",
    "",
    "我是老客户了，",
    "已经等了很久，",
    "电话一直打不通，",
    "家里老人孩子都在用，",
    "周末专门请假在家等，",
]
# Text-only kinds (the tuning sweep) and the detector's kinds (end to end).
TEXT_KINDS = {
    "same_wording": True,  # the same phrasing again, other details, a follow-up opener
    "paraphrase": True,  # the topic's other phrasing, the same product
    "other_topic_same_product": False,
    "other_topic": False,
}
E2E_KINDS = {
    **TEXT_KINDS,
    "by_email_only": True,  # the second complaint gives only the email of the first
    "other_record_same_email": True,  # two customer records of one person (see below)
    "after_window": False,  # same wording, past the window
    "other_customer_same_text": False,  # the very same text from someone else
    "other_order_same_text": False,  # same text, both name an order, different orders
}


@dataclass
class Pair:
    kind: str
    first: str
    second: str
    label: bool
    extra: dict[str, object] = field(default_factory=dict)


class Generator:
    def __init__(self, seed: int, topics: list[str], reviews: list[str]) -> None:
        self.rng = random.Random(seed)
        self.topics = topics
        self.reviews = reviews
        self.products = [p for group in words.PRODUCTS.values() for p in group]

    def _fill(self, template: str, product: str) -> str:
        rng = self.rng
        return template.format(p=product, d=rng.randint(2, 30), n=rng.choice([39, 88, 199, 560]))

    def text(self, topic: str, product: str, phrasing: int | None = None, follow: bool = False):
        rng = self.rng
        templates = words.PHRASES[topic]
        index = rng.randrange(len(templates)) if phrasing is None else phrasing
        parts = [
            rng.choice(FOLLOW_UPS) if follow else rng.choice(words.OPENERS),
            rng.choice(FILLERS),
            self._fill(templates[index], product),
            "，" + rng.choice(FILLERS).rstrip("，") if rng.random() < 0.3 else "",
            "。",
            rng.choice(words.CLOSERS),
        ]
        if self.reviews and rng.random() < 0.3:
            parts.append(rng.choice(self.reviews))
        return "".join(parts), index

    def pair(self, kind: str) -> Pair:
        rng = self.rng
        topic = rng.choice(self.topics)
        product = rng.choice(self.products)
        first, index = self.text(topic, product)
        label = E2E_KINDS[kind]
        if kind in ("same_wording", "by_email_only", "other_record_same_email", "after_window"):
            second, _ = self.text(topic, product, index, follow=True)
        elif kind == "paraphrase":
            other = (index + 1) % len(words.PHRASES[topic])
            second, _ = self.text(topic, product, other, follow=True)
        elif kind in ("other_customer_same_text", "other_order_same_text"):
            second = first
        else:
            other_topic = rng.choice([t for t in self.topics if t != topic])
            other_product = product if kind == "other_topic_same_product" else self._other(product)
            second, _ = self.text(other_topic, other_product)
        return Pair(kind, first, second, label)

    def _other(self, product: str) -> str:
        return self.rng.choice([p for p in self.products if p != product])


def load_reviews(enabled: bool) -> list[str]:
    if not enabled or not REVIEWS.exists():
        return []
    with REVIEWS.open(encoding="utf-8-sig") as handle:
        rows = [r["review"].strip() for r in csv.DictReader(handle)]
    return [r for r in rows if 4 <= len(r) <= 30]


def topic_split(part: str) -> list[str]:
    topics = sorted(t for t in words.PHRASES if t != "待分类")
    return topics[0::2] if part == "tuning" else topics[1::2]


def scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def tune(args: argparse.Namespace) -> None:
    from kesu.complaints.repeats import complaint_text, features, similarity

    gen = Generator(TUNING_SEED, topic_split("tuning"), load_reviews(not args.no_reviews))
    pairs = [gen.pair(kind) for kind in TEXT_KINDS for _ in range(args.per_kind)]
    scored = [
        (
            similarity(
                features(complaint_text("", p.first)), features(complaint_text("", p.second))
            ),
            p,
        )
        for p in pairs
    ]
    print(f"tuning set: seed {TUNING_SEED}, {len(pairs)} pairs, topics {len(gen.topics)}")
    best = (0.0, 0.0)
    for step in range(2, 96):
        threshold = step / 100
        tp = sum(1 for s, p in scored if s >= threshold and p.label)
        fp = sum(1 for s, p in scored if s >= threshold and not p.label)
        fn = sum(1 for s, p in scored if s < threshold and p.label)
        precision, recall, f1 = scores(tp, fp, fn)
        if step % 5 == 0 or step in (18, 22):
            print(f"  threshold {threshold:.2f}: P {precision:.3f} R {recall:.3f} F1 {f1:.3f}")
        if f1 > best[1]:
            best = (threshold, f1)
    print(f"best F1 at threshold {best[0]:.2f} ({best[1]:.3f})")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s, p in scored:
        by_kind[p.kind].append(s)
    for kind, values in by_kind.items():
        values.sort()
        print(
            f"  {kind:28s} median {values[len(values) // 2]:.2f} min {values[0]:.2f} "
            f"max {values[-1]:.2f}"
        )


def heldout(args: argparse.Namespace) -> None:
    from kesu.accounts import service as accounts
    from kesu.clock import FrozenClock
    from kesu.complaints import registration, repeats
    from kesu.complaints.models import Complaint
    from kesu.complaints.schemas import ComplaintCreate
    from kesu.db import Database
    from kesu.migrate import upgrade

    gen = Generator(HELDOUT_SEED, topic_split("heldout"), load_reviews(not args.no_reviews))
    pairs = [gen.pair(kind) for kind in E2E_KINDS for _ in range(args.per_kind)]
    gen.rng.shuffle(pairs)
    start = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    window = 30  # the default; the database has no saved settings
    clock = FrozenClock(start)
    outcome: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp fp fn tn
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'kesu.db'}")
        upgrade(db, clock)
        with db.session(write=False) as session:
            config = repeats.current(session)
        print(
            f"held-out set: seed {HELDOUT_SEED}, {len(pairs)} pairs, topics {len(gen.topics)}, "
            f"window {config.window_days} d, threshold {config.threshold}"
        )

        def register(content: str, customer: dict[str, str], at: datetime, **extra: str) -> int:
            clock.set(at)
            data = ComplaintCreate.model_validate(
                {"channel": "phone", "content": content, "customer": customer, **extra}
            )
            with db.session() as session:
                complaint, _ = registration.create_complaint(
                    session, clock, accounts.SYSTEM, data, prepared=registration.prepare(db, data)
                )
                session.flush()
                return complaint.id

        for number, pair in enumerate(pairs):
            at = start + timedelta(hours=2 * number)
            later = at + timedelta(days=gen.rng.uniform(0.01, window - 1))
            phone = f"13{number:09d}"
            email = f"c{number}@example.com"
            first_customer = {"name": "客户", "phone": phone}
            second_customer = dict(first_customer)
            extra_first: dict[str, str] = {}
            extra_second: dict[str, str] = {}
            if pair.kind == "by_email_only":
                first_customer = {"name": "客户", "phone": phone, "email": email}
                second_customer = {"name": "客户", "email": email}
            elif pair.kind == "other_record_same_email":
                # The first complaint by email only makes record A; a call from the phone
                # about something else makes record B; the repeat gives both: it links to B
                # (phone is stronger than email) and must still find A's complaint.
                first_customer = {"name": "客户", "email": email}
                register("咨询一下会员积分怎么查询", {"name": "客户", "phone": phone}, at)
                second_customer = {"name": "客户", "phone": phone, "email": email}
            elif pair.kind == "after_window":
                later = at + timedelta(days=window + gen.rng.uniform(1, 20))
            elif pair.kind == "other_customer_same_text":
                second_customer = {"name": "另一位", "phone": f"15{number:09d}"}
            elif pair.kind == "other_order_same_text":
                extra_first = {"order_no": f"SO-{number}-A"}
                extra_second = {"order_no": f"SO-{number}-B"}
            first_id = register(pair.first, first_customer, at, **extra_first)
            second_id = register(pair.second, second_customer, later, **extra_second)
            with db.session(write=False) as session:
                linked = session.get(Complaint, second_id)
                predicted = linked is not None and linked.repeat_of_id == first_id
            row = outcome[pair.kind]
            row[0 if predicted and pair.label else 1 if predicted else 2 if pair.label else 3] += 1
        db.dispose()
    elapsed = time.perf_counter() - started
    tp = sum(r[0] for r in outcome.values())
    fp = sum(r[1] for r in outcome.values())
    fn = sum(r[2] for r in outcome.values())
    precision, recall, f1 = scores(tp, fp, fn)
    print(f"  overall: P {precision:.3f} R {recall:.3f} F1 {f1:.3f} (tp {tp} fp {fp} fn {fn})")
    text = [outcome[kind] for kind in TEXT_KINDS]
    t_tp, t_fp, t_fn = (sum(r[i] for r in text) for i in range(3))
    t_p, t_r, t_f1 = scores(t_tp, t_fp, t_fn)
    print(
        f"  text kinds only: P {t_p:.3f} R {t_r:.3f} F1 {t_f1:.3f} (tp {t_tp} fp {t_fp} fn {t_fn})"
    )
    for kind in E2E_KINDS:
        r = outcome[kind]
        label = "repeat" if E2E_KINDS[kind] else "not a repeat"
        share = (r[0] / (r[0] + r[2])) if E2E_KINDS[kind] else (r[3] / (r[1] + r[3]))
        print(
            f"  {kind:28s} ({label:12s}) correct {share:.3f}  tp {r[0]} fp {r[1]} fn {r[2]} "
            f"tn {r[3]}"
        )
    print(f"  {2 * len(pairs)} registrations in {elapsed:.1f} s")


def indexcost(args: argparse.Namespace) -> None:
    import statistics

    from sqlalchemy import text

    from kesu.accounts import service as accounts
    from kesu.clock import FrozenClock
    from kesu.complaints import registration
    from kesu.complaints.schemas import ComplaintCreate
    from kesu.db import Database
    from kesu.migrate import upgrade

    gen = Generator(HELDOUT_SEED, topic_split("heldout"), [])
    clock = FrozenClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {}
        for name in ("with", "without"):
            db = Database(f"sqlite:///{Path(tmp) / name}.db")
            upgrade(db, clock)
            if name == "without":
                with db.session() as session:
                    session.execute(text("DROP INDEX ix_complaints_customer_received"))
                    session.execute(text("DROP INDEX ix_complaints_channel_created"))
            dbs[name] = db
        times: dict[str, list[float]] = {"with": [], "without": []}
        for db in dbs.values():  # warm up: jieba, the triage lexicons, the connection pool
            with db.session() as session:
                registration.create_complaint(
                    session,
                    clock,
                    accounts.SYSTEM,
                    ComplaintCreate.model_validate(
                        {
                            "channel": "web",
                            "content": "预热",
                            "customer": {"name": "预热", "phone": "13000000000"},
                        }
                    ),
                )
        for round_ in range(args.per_kind // 20):
            texts = [gen.text(gen.rng.choice(gen.topics), "保温杯")[0] for _ in range(20)]
            order = list(dbs.items())
            for name, db in order if round_ % 2 else order[::-1]:  # alternate who goes first
                started = time.perf_counter()
                for i, content in enumerate(texts):
                    clock.advance(timedelta(minutes=1))
                    data = ComplaintCreate.model_validate(
                        {
                            "channel": "phone",
                            "content": content,
                            "customer": {"name": "客户", "phone": f"139{round_:04d}{i:04d}"},
                        }
                    )
                    with db.session() as session:
                        registration.create_complaint(session, clock, accounts.SYSTEM, data)
                times[name].append((time.perf_counter() - started) / 20 * 1000)
        for name, values in times.items():
            print(
                f"  {name:8s} indexes: {statistics.median(values):.2f} ms per registration "
                f"(median of {len(values)} rounds of 20)"
            )
        for db in dbs.values():
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("part", choices=["tune", "heldout", "indexcost"])
    parser.add_argument("--per-kind", type=int, default=0, help="pairs per kind")
    parser.add_argument("--no-reviews", action="store_true", help="no review sentences as noise")
    args = parser.parse_args()
    if args.part == "tune":
        args.per_kind = args.per_kind or 150
        tune(args)
    elif args.part == "indexcost":
        args.per_kind = args.per_kind or 200
        indexcost(args)
    else:
        args.per_kind = args.per_kind or 60
        heldout(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
