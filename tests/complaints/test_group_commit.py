"""Group commit (kesu.complaints.group_commit): many creates, one transaction, a savepoint
each; a bad create fails alone; idempotency holds inside a batch and across batches; waits
are bounded (503) and a withdrawn unit never runs."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from kesu.accounts.models import AuditLog
from kesu.accounts.service import SYSTEM
from kesu.complaints import events, registration
from kesu.complaints.group_commit import GroupCommit
from kesu.complaints.models import Complaint, ComplaintEvent, Customer, IdempotencyKey
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database
from kesu.errors import InvalidInput, ServiceBusy


def body(n: int, **overrides: Any) -> ComplaintCreate:
    raw = {
        "channel": "api",
        "customer": {"name": f"客户{n}", "phone": f"1390000{n:04d}"},
        "content": f"第{n}号投诉：耳机左耳没有声音，要求换货。",
        **overrides,
    }
    return ComplaintCreate.model_validate(raw)


def count(db: Database, model: Any, *where: Any) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def writer(db: Database) -> Iterator[GroupCommit]:
    gc = GroupCommit(db, timeout=5)
    yield gc
    gc.close()


class Gate:
    """A unit that holds the writer until opened, so the units queued meanwhile are taken
    together as the next batch."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, session: Session) -> None:
        self.entered.set()
        self.opened.wait(10)


def create(clock: Any, data: ComplaintCreate, key: str | None = None) -> Callable[..., Any]:
    def work(session: Session) -> tuple[int, str, bool]:
        complaint, replayed = registration.create_complaint(
            session, clock, SYSTEM, data, key, prepared={}
        )
        session.flush()
        return complaint.id, complaint.number, replayed

    return work


def test_a_batch_commits_together_and_a_bad_create_fails_alone(db, clock, writer):
    gate = Gate()
    held = writer.enqueue(gate)
    assert gate.entered.wait(10)

    def bad(session: Session) -> None:
        create(clock, body(99))(session)  # writes its rows, then fails
        raise InvalidInput("bad", field="content")

    units = [writer.enqueue(create(clock, body(n))) for n in range(3)]
    failing = writer.enqueue(bad)
    units += [writer.enqueue(create(clock, body(n))) for n in range(3, 5)]
    gate.opened.set()
    writer.wait(held)
    results = [writer.wait(unit) for unit in units]
    with pytest.raises(InvalidInput):
        writer.wait(failing)
    # the gate's batch, then the five good ones and the bad one together
    assert (writer.batches, writer.units) == (2, 7)
    assert len({number for _, number, _ in results}) == 5
    assert count(db, Complaint) == 5
    assert count(db, ComplaintEvent, ComplaintEvent.kind == "created") == 5
    assert count(db, AuditLog, AuditLog.action == "complaint.created") == 5
    # nothing of the failed create survived its savepoint
    assert count(db, Customer, Customer.phone == "13900000099") == 0
    numbers = [int(number.rsplit("-", 1)[1]) for _, number, _ in results]
    assert sorted(numbers) == numbers  # numbered in queue order, no gap kept by the bad one


def test_the_same_key_twice_in_one_batch_creates_one_complaint(db, clock, writer):
    gate = Gate()
    held = writer.enqueue(gate)
    assert gate.entered.wait(10)
    data = body(1)
    first = writer.enqueue(create(clock, data, "retry-1"))
    second = writer.enqueue(create(clock, data, "retry-1"))
    other = writer.enqueue(create(clock, body(1, content="另一件事"), "retry-1"))
    gate.opened.set()
    writer.wait(held)
    a, b = writer.wait(first), writer.wait(second)
    assert a[0] == b[0] and (a[2], b[2]) == (False, True)
    with pytest.raises(InvalidInput) as refused:
        writer.wait(other)
    assert refused.value.code == "idempotency_key_reused"
    assert count(db, Complaint) == 1
    assert count(db, IdempotencyKey) == 1
    # a later batch replays it too
    assert writer.submit(create(clock, data, "retry-1"))[:2] == a[:2]


def test_concurrent_retries_through_the_api_create_one_complaint(client, agent, db):
    payload = {
        "channel": "app",
        "customer": {"name": "李先生", "phone": "13900000001"},
        "content": "扫地机器人用了三天就无法开机",
    }
    headers = {**agent, "Idempotency-Key": "same-key-api"}
    answers: list[Any] = []

    def post() -> None:
        answers.append(client.post("/api/v1/complaints", json=payload, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * 6
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 5
    assert count(db, Complaint) == 1


def test_prepared_results_do_not_leak_to_the_next_create(db, clock):
    with db.session() as session:
        registration.create_complaint(session, clock, SYSTEM, body(1), prepared={"x": 1})
        assert events.PREPARED not in session.info
        registration.create_complaint(session, clock, SYSTEM, body(2))
        assert events.PREPARED not in session.info


def test_a_unit_not_started_in_time_is_a_503_and_never_runs(db, clock):
    writer = GroupCommit(db, timeout=0.3)
    gate = Gate()
    held = writer.enqueue(gate)
    assert gate.entered.wait(10)
    ran: list[bool] = []
    try:
        with pytest.raises(ServiceBusy):
            writer.submit(lambda session: ran.append(True))
    finally:
        gate.opened.set()
        writer.wait(held)
        writer.submit(lambda session: None)  # the writer goes on
        writer.close()
    assert ran == []


def test_a_full_queue_is_refused_at_once(db, clock):
    writer = GroupCommit(db, max_pending=1, timeout=5)
    gate = Gate()
    held = writer.enqueue(gate)
    assert gate.entered.wait(10)
    queued = writer.enqueue(lambda session: "queued")
    try:
        with pytest.raises(ServiceBusy):
            writer.enqueue(lambda session: "one too many")
    finally:
        gate.opened.set()
    assert writer.wait(held) is None and writer.wait(queued) == "queued"
    writer.close()


def test_a_held_write_lock_fails_the_whole_batch_once_with_503(backend, db, clock):
    """A lock timeout fails a batch once: each unit does not wait for the lock in turn."""
    if backend != "sqlite":
        pytest.skip("the lock file is SQLite's")
    short = Database(db.url, lock_timeout=0.3)
    checkouts: list[int] = []
    event.listen(short.engine, "checkout", lambda *args: checkouts.append(1))
    writer = GroupCommit(short, timeout=5)
    fd = os.open(db.url.split(":///", 1)[1] + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's write would
    try:
        units = [writer.enqueue(create(clock, body(n))) for n in range(6)]
        for unit in units:
            with pytest.raises(ServiceBusy):
                writer.wait(unit)
    finally:
        os.close(fd)
    assert len(checkouts) <= 2  # one lock wait per batch (all six were queued within it)
    writer.submit(create(clock, body(7)))  # the lock is free again: the writer goes on
    writer.close()
    short.dispose()
    assert count(db, Complaint) == 1


def test_with_group_commit_off_a_create_commits_alone_in_the_caller(db, clock, monkeypatch):
    from kesu.complaints import group_commit
    from kesu.config import Settings

    monkeypatch.setattr(group_commit, "get_settings", lambda: Settings(group_commit=False))
    caller = threading.get_ident()
    seen: list[int] = []

    def work(session: Session) -> tuple[int, str, bool]:
        seen.append(threading.get_ident())
        return create(clock, body(1))(session)

    group_commit.submit(db, work)
    with pytest.raises(InvalidInput):
        group_commit.submit(
            db,
            lambda session: create(clock, body(1, received_at="2000-01-01T00:00:00+00:00"))(
                session
            ),
        )
    assert seen == [caller]  # run by the calling thread, not a group writer
    assert count(db, Complaint) == 1
