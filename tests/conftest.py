"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, a frozen clock, users.

Every test that asks for ``db`` runs twice, once per backend. Set KESU_TEST_BACKENDS=sqlite to
run on SQLite only; KESU_TEST_REQUIRE_PG=1 (set by ``make test``) turns a missing PostgreSQL
into a failure instead of a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.clock import FrozenClock
from kesu.config import Settings
from kesu.db import Database
from kesu.migrate import upgrade
from kesu.models import metadata
from kesu.seeds.loader import load_defaults
from kesu.web.app import create_app
from tests.pg import PostgresServer, start_postgres

BACKENDS = [b for b in os.environ.get("KESU_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
# The channel tests' receivers listen on loopback, which webhooks may not reach by default.
os.environ.setdefault("KESU_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1,::1,localhost")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    if "postgresql" not in BACKENDS:
        yield None
        return
    server = start_postgres()
    if server is None and os.environ.get("KESU_TEST_REQUIRE_PG"):
        pytest.fail("PostgreSQL is required (KESU_TEST_REQUIRE_PG) but pg_ctl was not found")
    yield server
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kesu.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database, FrozenClock(START))
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database(postgres: PostgresServer | None) -> Iterator[Database | None]:
    if postgres is None:
        yield None
        return
    admin = Database(postgres.url())
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE DATABASE kesu_test")
    admin.dispose()
    database = Database(postgres.url("kesu_test"), pool_size=20)
    upgrade(database, FrozenClock(START))
    yield database
    database.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def db(
    backend: str,
    tmp_path: Path,
    sqlite_template: Path,
    pg_database: Database | None,
    clock: FrozenClock,
) -> Iterator[Database]:
    _clear_process_caches()
    if backend == "sqlite":
        path = tmp_path / "kesu.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
        return
    if pg_database is None:
        pytest.skip("PostgreSQL is not installed here")
    _reset_postgres(pg_database, clock)
    yield pg_database


def _clear_process_caches() -> None:
    """Per-process caches are keyed by database URL; the PostgreSQL URL is the same for
    every test, so a model or lexicon cached by the previous test must go."""
    from kesu.taxonomy import cache as config_cache
    from kesu.triage import lexicons, registry

    config_cache.clear()
    lexicons.clear_cache()
    registry.clear_cache()


def _reset_postgres(database: Database, clock: FrozenClock) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with database.session() as session:
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        load_defaults(session, clock)


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(database_url=db.url, environment="test", base_url="http://testserver")


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, db: Database) -> Any:
    return create_app(settings, clock=clock, db=db)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


MakeUser = Callable[..., tuple[User, dict[str, str]]]


@pytest.fixture
def make_user(db: Database, clock: FrozenClock) -> MakeUser:
    """Creates a user with a role (and team) and returns it with Bearer headers."""

    def make(
        username: str,
        role: str = "agent",
        team: str | None = "service",
        password: str = "password-123",
    ) -> tuple[User, dict[str, str]]:
        with db.session() as session:
            user = accounts.create_user(
                session,
                clock,
                accounts.SYSTEM,
                username=username,
                password=password,
                role=role,
                team_code=team,
            )
            token = accounts.create_token(session, clock, accounts.SYSTEM, user)
        return user, {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def agent(make_user: MakeUser) -> dict[str, str]:
    return make_user("agent1", "agent", "service")[1]


@pytest.fixture
def lead(make_user: MakeUser) -> dict[str, str]:
    return make_user("lead1", "team_lead", "service")[1]


@pytest.fixture
def admin(make_user: MakeUser) -> dict[str, str]:
    return make_user("admin1", "admin", None)[1]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Ends the process once everything is reported and every fixture is torn down.

    The interpreter's last garbage collection of the whole suite's heap (several GB: hundreds
    of apps, engines and triage models) took two to three minutes of CI time doing nothing
    useful; ``os._exit`` skips it and keeps pytest's exit status.
    """
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None or os.environ.get("KESU_TEST_CLEAN_EXIT"):
        return
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


_EXIT_STATUS = pytest.StashKey[int]()
