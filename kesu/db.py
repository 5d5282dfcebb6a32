"""Engine, sessions and the declarative base.

SQLite runs in WAL mode. Write transactions start with ``BEGIN IMMEDIATE`` so two processes
never deadlock upgrading a read lock; read-only sessions use a deferred ``BEGIN``.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware UTC datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return (
            value.astimezone(UTC)
            if dialect.name != "sqlite"
            else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[Any]: JSON(),
    }


# Per SQLite connection (see _on_connect): the page cache in KiB and the memory-mapped bytes.
SQLITE_CACHE_KIB = 16 * 1024
SQLITE_MMAP_BYTES = 0


def make_engine(url: str, pool_size: int = 10, lock_timeout: float = 10.0) -> Engine:
    """``lock_timeout`` bounds every wait for the database: SQLite's write lock (our ``flock``
    and SQLite's busy handler) and a free pooled connection; past it the request fails with
    ``ServiceBusy`` (503, ``Retry-After``) instead of holding a thread for ever."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=20,
            pool_timeout=lock_timeout,
            connect_args={"timeout": lock_timeout},
        )
        lock = Path(path + ".writelock") if path and path != ":memory:" else None
        _configure_sqlite(engine, lock, lock_timeout)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=lock_timeout,
        # a row lock or an ALTER held elsewhere: give up after the same bounded wait
        connect_args={"options": f"-c lock_timeout={max(1, int(lock_timeout * 1000))}"},
    )


# One mutex per lock file and process: threads of a process queue on it (a futex: the next
# thread wakes the moment it is released, and the wait can time out); the flock then only
# arbitrates between processes.
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()
# Which thread holds each lock file's mutex now (``holds_write_lock``).
_OWNERS: dict[str, int] = {}


def holds_write_lock() -> bool:
    """Whether this thread is inside a SQLite write transaction (it holds a write lock).

    Such a thread must not wait for another thread's write (the group commit's writer):
    the other thread would wait for this lock, and both for the timeout."""
    me = threading.get_ident()
    return any(owner == me for owner in list(_OWNERS.values()))


class _WriteLock:
    """Serialises SQLite write transactions of all threads and processes, with a bounded wait.

    SQLite's own busy handler sleeps and polls (1, 2, 5, 10 … ms), so under load writers waste
    the lock's idle time and latency explodes. Here the threads of a process queue on a mutex
    and the holder takes an exclusive ``flock`` on the lock file, which another process may
    hold: a blocking ``flock`` made by a helper thread, so it is handed over the moment it is
    freed while we wait at most ``timeout`` seconds. Past the timeout: ``ServiceBusy`` (503).
    """

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self.key = str(path.resolve())
        with _PROCESS_LOCKS_GUARD:
            self.mutex = _PROCESS_LOCKS.setdefault(self.key, threading.Lock())

    def _busy(self) -> Exception:
        from kesu.errors import ServiceBusy

        return ServiceBusy(retry_after=max(1, round(self.timeout)))

    def acquire(self) -> int:
        """The lock's descriptor (give it back to ``release``)."""
        deadline = time.monotonic() + self.timeout
        if not self.mutex.acquire(timeout=max(self.timeout, 0.001)):
            raise self._busy()
        try:
            fd = self._flock(deadline)
        except BaseException:
            self.mutex.release()
            raise
        _OWNERS[self.key] = threading.get_ident()
        return fd

    def _flock(self, deadline: float) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            pass  # another process writes: wait for it, bounded
        except BaseException:
            os.close(fd)
            raise
        got = threading.Event()
        guard = threading.Lock()
        state: dict[str, Any] = {"abandoned": False, "error": None}

        def wait() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                state["error"] = exc
            with guard:
                if state["abandoned"]:
                    os.close(fd)  # we gave up meanwhile: drop it at once
                    return
                got.set()

        threading.Thread(target=wait, name="kesu-write-lock", daemon=True).start()
        got.wait(max(0.0, deadline - time.monotonic()))
        with guard:
            if not got.is_set():
                state["abandoned"] = True
                raise self._busy()
        if state["error"] is not None:
            os.close(fd)
            raise state["error"]
        return fd

    def release(self, fd: int) -> None:
        _OWNERS.pop(self.key, None)
        os.close(fd)  # closing the descriptor drops the flock
        self.mutex.release()


def _configure_sqlite(engine: Engine, lock_path: Path | None, lock_timeout: float) -> None:
    write_lock = _WriteLock(lock_path, lock_timeout) if lock_path else None
    busy_ms = max(1, int(lock_timeout * 1000))

    def _release(dbapi_conn: Any, info: dict[str, Any]) -> None:
        fd = info.pop("kesu_write_lock", None)
        if fd is not None and write_lock is not None:
            write_lock.release(fd)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        # Memory (issue 13): each connection has its own page cache and its own mapping of
        # the file, and a process keeps up to its pool size of them (10, plus overflow under
        # load). 64 MiB of cache and 256 MiB mapped per connection made each server process
        # grow to 0.95-1.33 GB at 1,000,000 complaints. 16 MiB of cache holds a list page's
        # index and table pages many times over; reads beyond it come from the OS page cache
        # (shared by every process, not counted in theirs); a mapping would only spare a copy
        # of the few hundred pages a list reads (per-process RSS at 1M after the page load:
        # ~0.6 GB before, ~0.5 GB now; benchmarks/pages_bench.py, BENCHMARKS.md).
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        # Fewer, larger checkpoints: pages written many times are copied back once.
        cursor.execute("PRAGMA wal_autocheckpoint=8000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE" and write_lock is not None:
            conn.info["kesu_write_lock"] = write_lock.acquire()
        conn.exec_driver_sql(f"BEGIN {mode}")

    # These events fire just before SQLAlchemy ends the transaction; we end it ourselves first
    # (the driver's second commit/rollback is a no-op) so the lock is freed only afterwards.
    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:
        if "kesu_write_lock" in conn.info:
            conn.connection.dbapi_connection.commit()
            _release(None, conn.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        if "kesu_write_lock" in conn.info:
            conn.connection.dbapi_connection.rollback()
            _release(None, conn.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        _release(dbapi_conn, record.info)


class Database:
    """Holds the engine and the two session factories (write and read)."""

    def __init__(self, url: str, pool_size: int = 10, lock_timeout: float = 10.0) -> None:
        self.url = url
        self.lock_timeout = lock_timeout
        self.engine = make_engine(url, pool_size, lock_timeout)
        self.is_sqlite = url.startswith("sqlite")
        write_bind = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._writer = sessionmaker(bind=write_bind, expire_on_commit=False)
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._probe: Engine | None = None
        # The process's group-commit writer (kesu.complaints.group_commit), made on first use.
        self._group_commit: Any = None

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        session = (self._writer if write else self._reader)()
        try:
            yield session
            if write:
                session.commit()
            # A read session just closes: its objects stay loaded (rollback would expire them).
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def analyze(self) -> None:
        """Refreshes the planner's statistics (after bulk loads, and when serving starts).

        Without them SQLite may pick the team index for the overdue list and sort every
        overdue complaint of the team instead of walking the partial deadline index.
        """
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            conn.commit()

    def ping(self, timeout: float = 2.0) -> None:
        """Reads one row on a connection of its own (not the pool, never the write lock): the
        health probe answers even while every pooled connection waits for a writer."""
        if self._probe is None:
            url = self.engine.url
            args: dict[str, Any] = (
                {"timeout": timeout}
                if self.is_sqlite
                else {
                    "connect_timeout": max(1, round(timeout)),
                    "options": f"-c statement_timeout={int(timeout * 1000)}",
                }
            )
            self._probe = create_engine(url, poolclass=NullPool, connect_args=args)
        with self._probe.connect() as conn:
            probe = "SELECT count(*) FROM sqlite_master" if self.is_sqlite else "SELECT 1"
            conn.exec_driver_sql(probe).scalar()

    def dispose(self) -> None:
        if self._group_commit is not None:
            self._group_commit.close()
            self._group_commit = None
        self.engine.dispose()
        if self._probe is not None:
            self._probe.dispose()
