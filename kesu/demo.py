"""Generated demo data: realistic Chinese complaints across channels, categories, stages, dates.

Rows are written with bulk ``INSERT``s in batches, so a million complaints take minutes.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from kesu import demo_text as words
from kesu.accounts import service as accounts
from kesu.accounts.models import Team, User
from kesu.bulk import insert_rows
from kesu.clock import Clock
from kesu.complaints import registration, repeat_demo
from kesu.complaints.models import (
    Complaint,
    ComplaintSequence,
    Customer,
    Stage,
)
from kesu.complaints.numbering import LOCAL_TZ, PREFIX
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Base, Database
from kesu.intake.social import demo as social_demo
from kesu.routing import loads
from kesu.sla import config as sla_config
from kesu.sla.service import clocks_of
from kesu.tasks.service import create_task
from kesu.taxonomy.models import Category
from kesu.triage import similar
from kesu.triage.text import extract_keywords

DEMO_PASSWORD = "kesu-demo-2026"
STAFF = [
    ("admin", "admin", None),
    ("manager", "manager", None),
    ("exec", "executive", None),
    ("finance", "finance_approver", "finance"),
    ("auditor", "auditor", None),
]
CHANNEL_WEIGHTS = {
    "web": 25,
    "app": 20,
    "phone": 18,
    "api": 8,
    "email": 8,
    "desk": 6,
    "weibo": 4,
    "douyin": 3,
    "xiaohongshu": 3,
    "heimao": 2,
    "wechat": 2,
    "kuaishou": 1,
}
OUTPUT_TEXT = {
    "findings": words.FINDINGS,
    "solution": words.SOLUTIONS,
    "measures": words.MEASURES,
    "result": words.RESULTS,
}
BATCH = 5000


def ensure_staff(session: Session, clock: Clock) -> list[str]:
    """Demo users: admin, manager, executive, finance, auditor, a lead and two agents per team."""
    wanted = list(STAFF)
    for team in session.scalars(select(Team).order_by(Team.id)):
        wanted += [
            (f"lead_{team.code}", "team_lead", team.code),
            (f"agent_{team.code}_1", "agent", team.code),
            (f"agent_{team.code}_2", "agent", team.code),
        ]
    existing = set(session.scalars(select(User.username)))
    created = []
    for username, role, team_code in wanted:
        if username in existing:
            continue
        accounts.create_user(
            session,
            clock,
            accounts.SYSTEM,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            team_code=team_code,
        )
        created.append(username)
    return created


@dataclass
class _World:
    leaves: list[Category]
    stages: list[Stage]
    teams: dict[str, int]
    agents: dict[int, list[int]]
    counters: dict[str, int]
    indexed_stages: frozenset[str]  # resolved or closed: their complaints are similar cases


def _world(session: Session) -> _World:
    leaves = list(session.scalars(select(Category).where(Category.level == 3, Category.is_active)))
    stages = list(session.scalars(select(Stage).where(Stage.is_active).order_by(Stage.position)))
    teams = {t.code: t.id for t in session.scalars(select(Team))}
    agents: dict[int, list[int]] = {}
    for user in session.scalars(select(User).where(User.role.in_(["agent", "team_lead"]))):
        if user.team_id is not None:
            agents.setdefault(user.team_id, []).append(user.id)
    counters = {row.day: row.value for row in session.scalars(select(ComplaintSequence))}
    indexed = frozenset(s.code for s in stages if s.category in similar.INDEXED_CATEGORIES)
    return _World(leaves, stages, teams, agents, counters, indexed)


def generate(
    db: Database,
    clock: Clock,
    count: int,
    days: int = 180,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Adds ``count`` complaints received over the last ``days`` days; returns how many."""
    with db.session() as session:
        ensure_staff(session, clock)
    with db.session() as session:
        world = _world(session)
        next_customer = (session.scalar(select(Customer.id).order_by(Customer.id.desc())) or 0) + 1
        next_complaint = (
            session.scalar(select(Complaint.id).order_by(Complaint.id.desc())) or 0
        ) + 1
    rng = random.Random(seed)
    now = clock.now()
    customers = max(20, count // 4)
    made = 0
    for batch in _batches(count, BATCH):
        rows, people, events, terms = [], [], [], []
        for _ in range(batch):
            age = days * (1 - (made / max(count, 1))) * 86400  # oldest first: ids follow time
            received = now - timedelta(seconds=age + rng.uniform(0, 600))
            customer_id = next_customer + rng.randrange(customers)
            row, template = _complaint(
                rng, world, next_complaint + made, received, now, customer_id
            )
            rows.append(row)
            events += _events(row)
            if row["stage"] in world.indexed_stages:
                weights = dict(_template_keywords(template))
                terms += similar.index_rows(row["id"], row["category_id"], weights)
            made += 1
        people = [_customer(rng, cid, now) for cid in sorted({r["customer_id"] for r in rows})]
        with db.session() as session:
            stored = {
                c.id: c._asdict()
                for c in session.execute(
                    select(Customer.id, Customer.name, Customer.phone, Customer.email).where(
                        Customer.id.in_([p["id"] for p in people])
                    )
                )
            }
            fresh = [p for p in people if p["id"] not in stored]
            if fresh:
                session.execute(insert(Base.metadata.tables["customers"]), fresh)
            _contact_snapshots(rows, {p["id"]: p for p in fresh} | stored)
            session.execute(insert(Base.metadata.tables["complaints"]), rows)
            loads.add_rows(session, rows)  # Core rows: the assignee counters by hand
            session.execute(insert(Base.metadata.tables["complaint_events"]), events)
            insert_rows(session, Base.metadata.tables["similar_terms"], terms)
        if progress:
            progress(batch)
    _save_counters(db, world.counters)
    _advance_postgres_sequences(db)
    return made


def _advance_postgres_sequences(db: Database) -> None:
    """Explicit ids bypass PostgreSQL's identity sequences; move them past the new rows."""
    if db.is_sqlite:
        return
    with db.session() as session:
        for table in ("customers", "complaints"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )


def _batches(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size


def _contact_snapshots(rows: list[dict[str, Any]], people: dict[int, dict[str, Any]]) -> None:
    """Each complaint keeps what it said about its customer (``contact_*``, kesu.privacy)."""
    for row in rows:
        person = people[row["customer_id"]]
        row["contact_name"] = person["name"]
        row["contact_phone"] = person["phone"]
        row["contact_email"] = person["email"]


def _customer(rng: random.Random, customer_id: int, now: datetime) -> dict[str, Any]:
    phone = f"1{rng.choice('3456789')}{customer_id:09d}"[-11:]
    tier = rng.choices(["standard", "vip", "key"], [90, 8, 2])[0]
    return {
        "id": customer_id,
        "name": rng.choice(words.SURNAMES) + rng.choice(words.GIVEN),
        "phone": phone,
        "email": f"user{customer_id}@example.com",
        "tier": tier,
        "region": rng.choice(words.REGIONS),
        "external_id": None,
        "created_at": now,
        "updated_at": now,
    }


def _complaint(
    rng: random.Random,
    world: _World,
    complaint_id: int,
    received: datetime,
    now: datetime,
    customer_id: int,
) -> tuple[dict[str, Any], str]:
    """The complaint's row, and its text with the day count fixed (see _template_keywords)."""
    leaf = rng.choice(world.leaves)
    line = rng.choice(list(words.PRODUCTS))
    product = rng.choice(words.PRODUCTS[line])
    phrase = rng.choice(words.PHRASES.get(leaf.path.split("/")[-1], words.PHRASES["待分类"]))
    days, amount = rng.randint(2, 15), rng.choice([9, 20, 49, 99, 199, 399])
    text = phrase.format(p=product, d=days, n=amount)
    opener, closer = rng.choice(words.OPENERS), rng.choice(words.CLOSERS)
    content = opener + text + "。" + closer
    fixed = phrase.format(p=product, d=2, n=amount)
    template = f"{fixed[:40]}\n{opener}{fixed}。{closer}"
    stage_index = _stage_for_age(rng, (now - received).days, len(world.stages))
    stage = world.stages[stage_index]
    entered = received + (now - received) * rng.uniform(0.3, 0.9) if stage_index else received
    team_id = world.teams.get(leaf.team_code or "service")
    pool = world.agents.get(team_id or -1, [])
    assignee = rng.choice(pool) if pool and (stage_index > 0 or rng.random() < 0.5) else None
    outputs = {}
    for passed in world.stages[:stage_index]:
        for spec in passed.required_outputs:
            outputs[spec["code"]] = rng.choice(OUTPUT_TEXT.get(spec["code"], ["已处理"]))
    closed = stage.category == "closed"
    resolved = stage.category in ("resolved", "closed")
    local_day = received.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    world.counters[local_day] = world.counters.get(local_day, 0) + 1
    severity = (
        leaf.default_severity
        or rng.choices(["minor", "moderate", "serious", "critical"], [60, 28, 10, 2])[0]
    )
    return {
        "id": complaint_id,
        "number": f"{PREFIX}{local_day}-{world.counters[local_day]:06d}",
        "title": text[:40],
        "content": content,
        "channel": rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0],
        "customer_id": customer_id,
        "order_no": f"SO{received:%y%m%d}{rng.randrange(10**6):06d}",
        "product": product,
        "remedy": rng.choice(
            ["refund", "replacement", "repair", "compensation", "apology", "explanation"]
        ),
        "category_id": leaf.id,
        "severity": severity,
        "priority": {"minor": 3, "moderate": 3, "serious": 2, "critical": 1}[severity],
        "stage": stage.code,
        "stage_entered_at": entered,
        "is_open": not closed,
        "due_at": (
            entered + timedelta(minutes=stage.time_limit_minutes)
            if stage.time_limit_minutes and not closed
            else None
        ),
        "team_id": team_id if stage_index or assignee else None,
        "assignee_id": assignee,
        "tags": [],
        "custom_fields": {},
        "outputs": outputs,
        "tracking_token": secrets.token_urlsafe(24),
        "received_at": received,
        "first_response_at": received + timedelta(minutes=rng.randint(5, 120))
        if stage_index
        else None,
        "resolved_at": entered if resolved else None,
        "closed_at": entered if closed else None,
        "created_at": received,
        "updated_at": entered,
        "repeat_of_id": None,
        "merged_into_id": None,
        "reopen_count": 0,
        "version": 1 + stage_index,
    }, template


@lru_cache(maxsize=200_000)
def _template_keywords(template: str) -> tuple[tuple[str, float], ...]:
    """Unit keyword weights of a demo text, computed once per template.

    The day count ({d}, 2–15) is never a keyword (numbers need three digits), so texts that
    differ only in it share keywords: some 70,000 templates instead of one jieba pass per
    complaint, which keeps the million-complaint demo to minutes.
    """
    keywords = extract_keywords(template, similar.INDEX_TERMS)
    return tuple(
        similar.unit_weights(((k.word, k.weight) for k in keywords), similar.INDEX_TERMS).items()
    )


def _stage_for_age(rng: random.Random, age_days: int, stage_count: int) -> int:
    """Old complaints are mostly archived; recent ones are spread over the early stages."""
    last = stage_count - 1
    if age_days > 30:
        return last if rng.random() < 0.9 else rng.randrange(stage_count)
    if age_days > 7:
        return rng.choice([last, last, last - 1, 3, 4, 5])
    return min(last, int(rng.expovariate(0.8)))


def _events(row: dict[str, Any]) -> list[dict[str, Any]]:
    created = {
        "complaint_id": row["id"],
        "at": row["received_at"],
        "actor_kind": "system",
        "actor_id": None,
        "actor_label": "系统",
        "kind": "created",
        "visibility": "public",
        "body": "投诉已受理，受理编号 " + row["number"],
        "data": {"channel": row["channel"], "number": row["number"]},
    }
    if row["stage"] == "registered":
        return [created]
    moved = {
        **created,
        "at": row["stage_entered_at"],
        "kind": "stage_changed",
        "visibility": "internal",
        "body": f"→ {row['stage']}",
        "data": {"to": row["stage"], "demo": True},
        "actor_id": row["assignee_id"],
    }
    return [created, moved]


def _save_counters(db: Database, counters: dict[str, int]) -> None:
    with db.session() as session:
        stored = {row.day: row for row in session.scalars(select(ComplaintSequence))}
        for day, value in counters.items():
            if day in stored:
                stored[day].value = max(stored[day].value, value)
            else:
                session.add(ComplaintSequence(day=day, value=value))


# ---- a lived-in demo: live SLA warnings and breaches, bells, an incident, tasks -------------

LIVE_CATEGORY = "服务态度/客服态度/不回复"  # the front office's (客服中心): lead_service hears
SPIKE_CATEGORY = "服务态度/专业能力/反复转接"
LIVE_TEXTS = (
    "打了三次客服电话都说会回电，到现在没有任何人联系我。",
    "在线客服一直不回复，留言两天了没有结果。",
    "投诉提交后石沉大海，请尽快给个答复。",
)
SPIKE_TEXT = "客服把我的电话转了五次都没人能解决，每次都要重新说一遍问题。"
SUBTASKS = (
    ("engineering", "请技术支持部确认设备日志"),
    ("logistics", "请物流部核实配送记录"),
)


def bring_to_life(db: Database, clock: Clock, settings: Any) -> dict[str, int]:
    """Makes the demo look lived in, through the real services and one worker pass: open
    complaints whose first-response clocks are past the warning, the breach, level 2 and
    level 3 (so alerts, bell notifications and escalation tasks exist), a spike of one issue
    that opens an incident, and sub-tasks for other departments. Returns what it made."""
    from kesu.analytics import demo as analytics_demo
    from kesu.attachments import service as attachments_service
    from kesu.attachments.demo import add_demo_attachments
    from kesu.compensation import ledger_demo, standards_demo
    from kesu.compensation import request_demo as compensation_demo
    from kesu.exports import demo as exports_demo
    from kesu.intake.email import demo as email_demo
    from kesu.knowledge import demo as knowledge_demo
    from kesu.notify import customer_demo
    from kesu.reports import demo as report_demo
    from kesu.surveys import demo as survey_demo
    from kesu.worker import Worker

    with db.session() as session:
        reference = _live_complaint(session, clock, LIVE_TEXTS[0], clock.now())
        session.flush()
        first = next(r for r in clocks_of(reference) if r.milestone == "first_response")
        calendar = sla_config.calendar(session, first.calendar_code)
        target = timedelta(minutes=first.target_minutes)
        level2, level3 = (first.level_percents or [150, 200])[:2]
        shares = (
            (first.warn_percent + 100) / 200,  # between the warning and the deadline
            (first.warn_percent + 100) / 200,
            1.2,  # breached: the team lead hears
            (level2 + level3) / 200,  # between level 2 and level 3: managers
            level3 / 100 + 0.5,  # past level 3: executives
        )
        live = [reference]
        for index, share in enumerate(shares):
            received = _business_time_ago(calendar, clock.now(), target * share)
            text = LIVE_TEXTS[(index + 1) % len(LIVE_TEXTS)]
            live.append(_live_complaint(session, clock, text, received))
        spike = [_live_complaint(session, clock, SPIKE_TEXT, clock.now(), SPIKE_CATEGORY)]
        spike += [
            _live_complaint(session, clock, SPIKE_TEXT, clock.now(), SPIKE_CATEGORY)
            for _ in range(6)
        ]
        repeat_demo.make(session, clock)  # customers who complain again: 重复投诉
        for complaint, (team_code, title) in zip(live[1:], SUBTASKS, strict=False):
            team = session.scalar(select(Team).where(Team.code == team_code))
            create_task(
                session, clock, accounts.SYSTEM, complaint, kind="subtask", title=title, team=team
            )
    email_demo.seed(db, clock, settings)  # a mailbox and sample mails (kesu.intake.email)
    social_demo.seed(db, clock)  # sources, mentions in the review queue, a social complaint
    stats = Worker(db, settings, clock).run_once()
    attachments_service.configure(settings)  # this run's data directory, not a stale one
    files = add_demo_attachments(db, clock)
    customer_messages = customer_demo.show(db, clock)  # left pending in the outbox
    rated = survey_demo.show(db, clock)  # good, low and open satisfaction surveys
    articles = knowledge_demo.show(db, clock)  # a resolved complaint made an article
    recommended = standards_demo.show(db, clock)  # standards v2, complaints at 方案制定
    requests = compensation_demo.show(db, clock)  # pending, fast, approved, rejected, joint
    ledger_shown = ledger_demo.show(db, clock)  # budgets this month, one payout paid
    report_schedules = report_demo.show(db, clock)  # monthly and quarterly report emails
    exported = exports_demo.show(db, clock, settings)  # the manager's background export
    analytics_demo.show(db, clock)  # KPI rollups rebuilt over the bulk rows; business volumes
    return {
        "live": len(live),
        "spike": len(spike),
        "alerts": stats.fired,
        "files": files,
        "customer_messages": customer_messages,
        "surveys": rated,
        "articles": articles,
        "recommended": recommended,
        "compensation_requests": requests,
        "budgets": ledger_shown["budgets"],
        "paid": ledger_shown["paid"],
        "report_schedules": report_schedules,
        "exported": exported,
    }


def _live_complaint(
    session: Session,
    clock: Clock,
    text: str,
    received: datetime,
    category: str = LIVE_CATEGORY,
) -> Complaint:
    rng = random.Random(text + received.isoformat())
    data = ComplaintCreate.model_validate(
        {
            "channel": "phone",
            "content": text,
            "category": category,
            "received_at": received,
            "customer": {
                "name": rng.choice(words.SURNAMES) + rng.choice(words.GIVEN),
                "phone": f"139{rng.randrange(10**8):08d}",
            },
        }
    )
    complaint, _replayed = registration.create_complaint(session, clock, accounts.SYSTEM, data)
    return complaint


def _business_time_ago(calendar: Any, now: datetime, wanted: timedelta) -> datetime:
    """The moment ``wanted`` business time before ``now`` (bisection over the last 30 days:
    nights, weekends and holidays stretch it)."""
    early, late = now - timedelta(days=30), now
    for _ in range(40):
        middle = early + (late - early) / 2
        if calendar.business_time_between(middle, now) >= wanted:
            early = middle
        else:
            late = middle
    return early
