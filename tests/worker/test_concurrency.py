"""Several workers on one database: every due timer fires exactly once, every outbox row is
delivered exactly once. Each worker is a thread with its own engine (its own connections)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import func, insert, select

from kesu.complaints.models import Complaint, ComplaintEvent, Customer
from kesu.db import Database
from kesu.notify.models import NotifyEndpoint, OutboxMessage
from kesu.sla.models import SlaAlert, SlaClock
from tests.flows import worker
from tests.notify.conftest import Receiver, json_answer

WORKERS = 4


def due_timers(db: Database, clock, count: int) -> None:
    """``count`` open complaints whose resolution clock (7×24, 60 minutes, started 50 minutes
    ago) has its 80 % warning due now and its breach 10 minutes ahead."""
    now = clock.now()
    started = now - timedelta(minutes=50)
    with db.session() as session:
        session.execute(
            insert(Customer),
            [
                {
                    "id": 1,
                    "name": "测试",
                    "phone": "13800000000",
                    "tier": "standard",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        complaints, clocks = [], []
        for i in range(1, count + 1):
            complaints.append(
                {
                    "id": i,
                    "number": f"TS20261123-{i:06d}",
                    "title": "批量",
                    "content": "批量",
                    "channel": "api",
                    "customer_id": 1,
                    "severity": "minor",
                    "priority": 3,
                    "stage": "investigating",
                    "stage_entered_at": started,
                    "is_open": True,
                    "due_at": now + timedelta(minutes=10),
                    "tags": [],
                    "custom_fields": {},
                    "outputs": {},
                    "tracking_token": f"t{i}",
                    "received_at": started,
                    "created_at": started,
                    "updated_at": started,
                    "reopen_count": 0,
                    "version": 1,
                }
            )
            clocks.append(
                {
                    "complaint_id": i,
                    "milestone": "resolution",
                    "cycle": 0,
                    "policy_id": None,
                    "policy_version": 0,
                    "calendar_code": "always_open",
                    "target_minutes": 60,
                    "warn_percent": 80,
                    "level_percents": [150, 200],
                    "started_at": started,
                    "pauses": [],
                    "status": "running",
                    "due_at": now + timedelta(minutes=10),
                    "breached": False,
                    "notified": 0,
                    "next_fire_at": now - timedelta(minutes=2),
                    "next_kind": "warning",
                    "updated_at": started,
                }
            )
        for start in range(0, count, 2000):
            session.execute(insert(Complaint), complaints[start : start + 2000])
            session.execute(insert(SlaClock), clocks[start : start + 2000])
    if not db.is_sqlite:
        with db.session() as session:
            session.execute(
                select(func.setval("complaints_id_seq", count))  # type: ignore[arg-type]
            )


def run_workers(db: Database, settings, clock, job) -> Counter[int]:
    """Runs ``job(worker)`` in WORKERS threads until each finds nothing; returns their counts."""
    done: Counter[int] = Counter()
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def one(index: int) -> None:
        own = Database(db.url, pool_size=2)
        try:
            runner = worker(own, settings, clock, httpx.Client(trust_env=False, timeout=5))
            runner.timer_batch = 250
            start.wait()
            while True:
                claimed = job(runner)
                if not claimed:
                    break
                done[index] += claimed
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return done


def test_four_workers_fire_every_due_timer_exactly_once(backend, db, settings, clock):
    count = 10_000 if backend == "postgresql" else 2_000
    due_timers(db, clock, count)
    per_worker = run_workers(db, settings, clock, lambda w: w.fire_timers()[0])
    assert sum(per_worker.values()) == count
    if backend == "postgresql":
        assert len(per_worker) >= 2, per_worker  # the work really was shared
    with db.session(write=False) as session:
        alerts = Counter(session.execute(select(SlaAlert.complaint_id, SlaAlert.kind)).all())
        warned = session.scalar(
            select(func.count())
            .select_from(ComplaintEvent)
            .where(ComplaintEvent.kind == "sla_warning")
        )
        rearmed = Counter(session.scalars(select(SlaClock.next_kind)))
    assert len(alerts) == count and set(alerts.values()) == {1}
    assert {kind for _, kind in alerts} == {"warning:resolution"}
    assert warned == count
    assert rearmed == {"breach": count}  # each clock now waits for its breach


def test_four_workers_deliver_every_outbox_row_exactly_once(
    backend, db, settings, clock, receiver: Receiver
):
    receiver.handle = lambda request: json_answer({"ok": True})
    count = 300
    now = clock.now()
    with db.session() as session:
        endpoint = NotifyEndpoint(
            code="hook",
            name="hook",
            kind="webhook",
            config={"url": f"{receiver.url}/h"},
            events=[],
            teams=[],
            locale="zh_CN",
            is_active=True,
            updated_at=now,
        )
        session.add(endpoint)
        session.flush()
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "dedup_key": f"k{i}",
                    "channel": "webhook",
                    "endpoint_id": endpoint.id,
                    "recipient": "",
                    "event": "sla_breach",
                    "title": f"#{i}",
                    "body": "",
                    "data": {},
                    "status": "pending",
                    "attempts": 0,
                    "available_at": now,
                    "last_error": "",
                    "created_at": now,
                }
                for i in range(count)
            ],
        )
    settings.notify_lease_seconds = 300
    per_worker = run_workers(db, settings, clock, lambda w: w.run_once().delivery.claimed)
    assert sum(per_worker.values()) == count
    deliveries = Counter(r.headers["x-kesu-delivery"] for r in receiver.received)
    assert len(deliveries) == count and set(deliveries.values()) == {1}
    with db.session(write=False) as session:
        statuses = Counter(session.scalars(select(OutboxMessage.status)))
    assert statuses == {"delivered": count}
