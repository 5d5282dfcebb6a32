"""Engine, sessions and the declarative base.

SQLite runs in WAL mode. Write transactions start with ``BEGIN IMMEDIATE`` so two processes
never deadlock upgrading a read lock; read-only sessions use a deferred ``BEGIN``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

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


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=20, connect_args={"timeout": 30}
        )
        lock = Path(path + ".writelock") if path and path != ":memory:" else None
        _configure_sqlite(engine, lock)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


class _WriteLock:
    """Serialises SQLite write transactions of all threads and processes with ``flock``.

    SQLite's own busy handler sleeps and polls (1, 2, 5, 10 … ms), so under load writers waste
    the lock's idle time and latency explodes. A blocking ``flock`` wakes the next writer the
    moment the previous one commits. Each acquisition opens its own descriptor, so threads of
    one process queue on it too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def acquire(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing the descriptor drops the lock


def _configure_sqlite(engine: Engine, lock_path: Path | None) -> None:
    write_lock = _WriteLock(lock_path) if lock_path else None

    def _release(dbapi_conn: Any, info: dict[str, Any]) -> None:
        fd = info.pop("kesu_write_lock", None)
        if fd is not None:
            _WriteLock.release(fd)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA mmap_size=268435456")
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

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.is_sqlite = url.startswith("sqlite")
        write_bind = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._writer = sessionmaker(bind=write_bind, expire_on_commit=False)
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False)

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

    def dispose(self) -> None:
        self.engine.dispose()
