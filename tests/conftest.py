"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, a frozen clock, users.

Every test that asks for ``db`` runs twice, once per backend. Set KESU_TEST_BACKENDS=sqlite to
run on SQLite only; KESU_TEST_REQUIRE_PG=1 (set by ``make test``) turns a missing PostgreSQL
into a failure instead of a skip.

``make test`` runs the suite in parallel (pytest-xdist). Everything shared is per worker
process: session fixtures run once in each worker, so each has its own PostgreSQL server
(tests/pg.py, its own temp dir and port), SQLite template, dovecot; every loopback receiver
binds port 0; ``tmp_path`` is under the worker's own base directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
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
# argon2 at its production cost (64 MiB, 3 passes, 4 lanes) is ~0.25 s of CPU per hash; the
# suite hashes thousands of passwords (every make_user, every sign-in). Tests use the same
# code and the same argon2id format at the lowest cost; tests/test_harness.py checks that the
# production hasher keeps its cost.
PRODUCTION_HASHER = accounts._hasher
accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
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
def pg_database(postgres: PostgresServer | None) -> Iterator[PgDatabase | None]:
    if postgres is None:
        yield None
        return
    admin = Database(postgres.url())
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE DATABASE kesu_test")
    admin.dispose()
    database = Database(postgres.url("kesu_test"), pool_size=20)
    upgrade(database, FrozenClock(START))
    pg = PgDatabase(database)
    yield pg
    database.dispose()


class PgDatabase:
    """The worker's PostgreSQL test database and its reset to the seeded state.

    Seeding with ``load_defaults`` (ORM inserts, hundreds of round trips) and a TRUNCATE of
    every table took 0.6-2.5 s per test. Instead the seeded state is taken once, into the
    schema ``kesu_seed``, and each test starts with ONE batch of statements: with foreign-key
    triggers off (``session_replication_role = replica``) a DELETE of every table (most are
    empty: far cheaper than TRUNCATE, which makes new files for every table and index), an
    INSERT … SELECT of each seeded table from its copy, and every sequence put back where the
    seed left it. The state is exactly TRUNCATE … RESTART IDENTITY + ``load_defaults`` (the
    copy is taken from that), checked once per worker by row count.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        tables = [t.name for t in metadata.sorted_tables]
        with database.session() as session:  # the state every test had before
            names = ", ".join(f'"{name}"' for name in tables)
            session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            load_defaults(session, FrozenClock(START))
        with database.engine.begin() as conn:
            generated = {
                (table, column)
                for table, column in conn.exec_driver_sql(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND is_generated = 'ALWAYS'"
                )
            }
            self.counts = {
                name: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one())
                for name in tables
            }
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS kesu_seed CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA kesu_seed")
            statements = ["SET LOCAL session_replication_role = replica"]
            statements += [f'DELETE FROM "{name}"' for name in reversed(tables)]
            for name in tables:
                if not self.counts[name]:
                    continue
                columns = ", ".join(
                    f'"{column}"'
                    for (column,) in conn.exec_driver_sql(
                        "SELECT column_name FROM information_schema.columns WHERE "
                        f"table_schema = 'public' AND table_name = '{name}' "
                        "ORDER BY ordinal_position"
                    )
                    if (name, column) not in generated
                )
                conn.exec_driver_sql(
                    f'CREATE TABLE kesu_seed."{name}" AS SELECT {columns} FROM "{name}"'
                )
                statements.append(
                    f'INSERT INTO "{name}" ({columns}) OVERRIDING SYSTEM VALUE '
                    f'SELECT {columns} FROM kesu_seed."{name}"'
                )
            for sequence, last_value in conn.exec_driver_sql(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
            ):
                statements.append(
                    f"SELECT setval('public.\"{sequence}\"', {int(last_value)}, true)"
                    if last_value is not None
                    else f'ALTER SEQUENCE public."{sequence}" RESTART'
                )
        self.script = ";\n".join(statements)
        self.reset()
        with database.engine.connect() as conn:
            after = {
                name: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one())
                for name in tables
            }
        assert after == self.counts, "the PostgreSQL reset does not restore the seeded state"

    def reset(self) -> None:
        with self.database.engine.begin() as conn:
            conn.exec_driver_sql(self.script)


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
    pg_database: PgDatabase | None,
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
    pg_database.reset()
    yield pg_database.database


def _clear_process_caches() -> None:
    """Per-process caches are keyed by database URL; the PostgreSQL URL is the same for
    every test, so a model or lexicon cached by the previous test must go."""
    from kesu.taxonomy import cache as config_cache
    from kesu.triage import lexicons, registry

    config_cache.clear()
    lexicons.clear_cache()
    registry.clear_cache()


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


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Ends the process once everything is reported and every fixture is torn down.

    The interpreter's last garbage collection of the whole suite's heap (several GB: hundreds
    of apps, engines and triage models) took two to three minutes of CI time doing nothing
    useful; ``os._exit`` skips it and keeps pytest's exit status. ``trylast``: the other
    plugins' unconfigure hooks run first. Under xdist it runs in each worker too, after the
    worker has sent its last report (``workerfinished``) and torn its fixtures down (its
    PostgreSQL stopped), and in the controller, whose status counts every worker's failures.
    KESU_TEST_CLEAN_EXIT=1 turns it off (profilers, coverage: anything writing at exit).
    """
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None or os.environ.get("KESU_TEST_CLEAN_EXIT"):
        return
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


_EXIT_STATUS = pytest.StashKey[int]()
