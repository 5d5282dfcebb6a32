"""Group commit: one writer thread per process commits the pending creates together.

On SQLite one transaction writes at a time (``kesu.db``'s write lock), and each create paid
the lock hand-over, ``BEGIN IMMEDIATE`` and ``COMMIT`` on its own. Here a request thread
hands its unit of work (a function of a write session) to the process's writer and waits;
the writer takes every pending unit, runs them one after another in ONE transaction, each
in its own SAVEPOINT, and commits once:

- a unit that raises rolls back its savepoint only; its request gets the exception, the
  others commit;
- a request is answered only after the transaction holding its rows has committed (the
  future is resolved after ``COMMIT``), so an acknowledged create is in the database;
- waits are bounded: a full queue, or a unit not started within the database's lock
  timeout, is ``ServiceBusy`` (503 with ``Retry-After``) — a unit refused that way never
  runs; once started it finishes (the write lock's own wait is bounded);
- if the commit itself fails, each unit of the batch is retried alone, so one bad unit
  cannot fail the others at commit either.

Each unit runs in the ``contextvars`` context of the request that submitted it (the
request's public address, its language), and whatever it returns must be usable after the
session is closed (ids, plain values; ORM objects are detached, ``expire_on_commit=False``).
PostgreSQL gains too (one commit, one WAL flush, per batch), and several processes still
write in parallel there.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from kesu.config import get_settings
from kesu.db import Database, holds_write_lock
from kesu.errors import ServiceBusy

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_BATCH = 64  # units per transaction
MAX_PENDING = 1024  # units waiting; beyond, refuse at once (503)

_PENDING, _RUNNING, _DONE, _CANCELLED = range(4)


class _Unit(Generic[T]):
    """One submitted unit of work and its outcome."""

    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.context = contextvars.copy_context()
        self.state = _PENDING
        self.guard = threading.Lock()
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def start(self) -> bool:
        """Pending → running; False if the submitter gave up first."""
        with self.guard:
            if self.state != _PENDING:
                return False
            self.state = _RUNNING
            return True

    def cancel(self) -> bool:
        """Pending → cancelled; False if the writer has already started it."""
        with self.guard:
            if self.state != _PENDING:
                return False
            self.state = _CANCELLED
            return True

    def run(self, session: Session) -> None:
        """Runs the unit in its own savepoint; the outcome is kept, not yet announced."""
        self.result, self.error = None, None
        try:
            with session.begin_nested():
                self.result = self.context.run(self.work, session)
        except Exception as exc:  # the savepoint is rolled back; the others go on
            self.error = exc

    def finish(self, error: BaseException | None = None) -> None:
        if error is not None:
            self.error, self.result = error, None
        with self.guard:
            self.state = _DONE
        self.done.set()


class GroupCommit:
    """The writer of one process for one database (see the module's text)."""

    def __init__(
        self,
        db: Database,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        timeout: float | None = None,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.timeout = db.lock_timeout if timeout is None else timeout
        self._queue: queue.Queue[_Unit[Any] | None] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._loop, name="kesu-group-commit", daemon=True)
        self._thread.start()
        self.batches = 0  # counters for tests and benchmarks
        self.units = 0

    def submit(self, work: Callable[[Session], T]) -> T:
        """Runs ``work(session)`` in the next group transaction; returns its result once
        committed, or raises its exception (its own savepoint rolled back) or ``ServiceBusy``."""
        return self.wait(self.enqueue(work))

    def enqueue(self, work: Callable[[Session], T]) -> _Unit[T]:
        """Queues ``work`` without waiting (``wait`` for its outcome); ``ServiceBusy`` if the
        queue is full."""
        if holds_write_lock():
            # This thread's own write transaction would block the writer until the timeout.
            raise RuntimeError("group commit submitted from inside a write transaction")
        unit: _Unit[T] = _Unit(work)
        try:
            self._queue.put_nowait(unit)
        except queue.Full:
            raise self._busy() from None
        return unit

    def wait(self, unit: _Unit[T]) -> T:
        """The unit's result once committed. A unit not started within the lock timeout is
        withdrawn (it never runs) and ``ServiceBusy`` raised."""
        if not unit.done.wait(self.timeout) and unit.cancel():
            raise self._busy()
        unit.done.wait()  # started: it finishes (the write lock's wait is bounded)
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[return-value]

    def close(self) -> None:
        """Stops the writer once the units already queued are done."""
        self._queue.put(None)
        self._thread.join(timeout=self.timeout + 5)

    def _busy(self) -> ServiceBusy:
        return ServiceBusy(retry_after=max(1, round(self.timeout)))

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(unit)
            live = [unit for unit in batch if unit.start()]
            if live:
                try:
                    self._commit(live)
                except BaseException as exc:  # never leave a submitter waiting
                    log.exception("group commit failed")
                    for unit in live:
                        if not unit.done.is_set():
                            unit.finish(exc)

    def _commit(self, units: list[_Unit[Any]]) -> None:
        try:
            with self.db.session() as session:
                # Begin (and, on SQLite, take the write lock) before the first savepoint, so
                # a lock timeout fails the batch once instead of each unit waiting in turn.
                session.connection()
                for unit in units:
                    unit.run(session)
        except Exception as exc:
            if len(units) > 1 and not isinstance(exc, ServiceBusy):
                for unit in units:  # the COMMIT failed: each unit again, alone
                    self._commit([unit])
                return
            for unit in units:
                unit.finish(exc)
            return
        self.batches += 1
        self.units += len(units)
        for unit in units:
            unit.finish()


_GUARD = threading.Lock()


def for_database(db: Database) -> GroupCommit:
    """The process's writer for ``db`` (started on first use, after any fork)."""
    writer: GroupCommit | None = db._group_commit
    if writer is None:
        with _GUARD:
            writer = db._group_commit
            if writer is None:
                writer = db._group_commit = GroupCommit(db)
    return writer


def submit(db: Database, work: Callable[[Session], T]) -> T:
    """``for_database(db).submit(work)``; with ``KESU_GROUP_COMMIT=0``, ``work`` runs in a
    write transaction of its own in the calling thread instead (same outcome, no batching),
    to compare the two."""
    if not get_settings().group_commit:
        with db.session() as session:
            return work(session)
    return for_database(db).submit(work)
