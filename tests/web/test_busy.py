"""Finding 10: a stuck writer must not stop the service.

A write that cannot get the database within the (configured) bounded wait answers 503 with
``Retry-After``, whoever holds the lock (our own lock file, another process's ``BEGIN
IMMEDIATE``, a PostgreSQL row lock); ``/healthz`` answers meanwhile and reports a failing disk
or database as a 503 naming the check.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kesu.config import Settings
from kesu.db import Database
from kesu.web import health
from kesu.web.app import create_app
from tests.web.conftest import HTML, csrf_of, hidden

TIMEOUT = 0.4
NEW = {
    "channel": "phone",
    "content": "耳机左耳没有声音，申请换货",
    "customer": {"name": "王女士", "phone": "13800138000"},
}


@pytest.fixture
def short_db(db: Database) -> Iterator[Database]:
    """The test's database, with a short bounded wait."""
    database = Database(db.url, lock_timeout=TIMEOUT)
    yield database
    database.dispose()


@pytest.fixture
def busy_client(short_db: Database, clock: Any, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=short_db.url,
        environment="test",
        base_url="http://testserver",
        data_dir=tmp_path / "data",
        write_lock_timeout_seconds=TIMEOUT,
    )
    with TestClient(create_app(settings, clock=clock, db=short_db)) as client:
        client.get("/api/v1/nothing")  # warm up: a process's first request loads much
        yield client


def sqlite_file(database: Database) -> str:
    return database.url.split(":///", 1)[1]


def hold_lock_file(database: Database) -> int:
    fd = os.open(sqlite_file(database) + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def assert_busy(response: Any, started: float) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["Retry-After"].isdigit()
    assert time.monotonic() - started < TIMEOUT + 3
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        assert body["code"] == "service_busy" and body["detail"]


def test_a_held_write_lock_gives_503_and_healthz_still_answers(
    backend, short_db, busy_client, agent
):
    if backend != "sqlite":
        pytest.skip("the lock file is SQLite's")
    # warm up (the first request of a process imports and loads models)
    assert busy_client.post("/api/v1/complaints", json=NEW, headers=agent).status_code == 201
    assert busy_client.get("/healthz").status_code == 200
    fd = hold_lock_file(short_db)
    try:
        results: list[Any] = []
        writer = threading.Thread(
            target=lambda: results.append(
                busy_client.post("/api/v1/complaints", json=NEW, headers=agent)
            )
        )
        started = time.monotonic()
        writer.start()
        time.sleep(0.05)  # the writer is waiting for the lock now
        probe = time.monotonic()
        health_answer = busy_client.get("/healthz")
        assert health_answer.status_code == 200, health_answer.text
        assert time.monotonic() - probe < TIMEOUT  # it did not wait for the writer
        writer.join(10)
        assert_busy(results[0], started)
    finally:
        os.close(fd)
    # the lock is free again: writes go through
    assert busy_client.post("/api/v1/complaints", json=NEW, headers=agent).status_code == 201


def test_another_process_holding_sqlites_lock_gives_503_not_500(
    backend, short_db, busy_client, agent
):
    if backend != "sqlite":
        pytest.skip("SQLite's own lock")
    outside = sqlite3.connect(sqlite_file(short_db), isolation_level=None)
    outside.execute("BEGIN IMMEDIATE")  # as `sqlite3 kesu.db` would
    try:
        started = time.monotonic()
        assert_busy(busy_client.post("/api/v1/complaints", json=NEW, headers=agent), started)
        assert busy_client.get("/healthz").status_code == 200  # reads still work (WAL)
    finally:
        outside.execute("ROLLBACK")
        outside.close()
    assert busy_client.post("/api/v1/complaints", json=NEW, headers=agent).status_code == 201


def test_a_page_write_waiting_too_long_is_a_503_page(backend, short_db, busy_client):
    if backend != "sqlite":
        pytest.skip("the lock file is SQLite's")

    def form() -> dict[str, str]:
        page = busy_client.get("/submit", headers=HTML).text
        return {
            "csrf_token": csrf_of(page),
            "form_key": hidden(page, "form_key"),
            "name": "李先生",
            "phone": "13900000001",
            "content": "扫地机器人用了三天就无法开机",
            "remedy": "repair",
        }

    # warm up: the first complaint of a process loads the triage models
    busy_client.post("/submit", data=form(), headers=HTML, follow_redirects=False)
    data = form()
    fd = hold_lock_file(short_db)
    try:
        started = time.monotonic()
        response = busy_client.post("/submit", data=data, headers=HTML, follow_redirects=False)
        assert_busy(response, started)
        assert "text/html" in response.headers["content-type"]
    finally:
        os.close(fd)


def test_a_postgresql_row_lock_held_elsewhere_gives_503(backend, short_db, busy_client, admin):
    if backend != "postgresql":
        pytest.skip("PostgreSQL's lock_timeout")
    created = busy_client.post("/api/v1/complaints", json=NEW, headers=admin).json()
    with short_db.engine.connect() as other:
        other.execute(
            text("SELECT id FROM complaints WHERE id = :id FOR UPDATE"), {"id": created["id"]}
        )
        started = time.monotonic()
        response = busy_client.patch(
            f"/api/v1/complaints/{created['id']}",
            json={"version": created["version"], "priority": 1},
            headers=admin,
        )
        assert_busy(response, started)
        assert busy_client.get("/healthz").status_code == 200
        other.rollback()


def test_healthz_reports_a_full_disk(busy_client, monkeypatch):
    assert busy_client.get("/healthz").json()["checks"] == {"database": "ok", "disk": "ok"}
    monkeypatch.setattr(health, "free_bytes", lambda path: 1024)
    response = busy_client.get("/healthz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "error" and body["field"] == "disk", body
    assert body["failing"] == ["disk"], body
    assert body["checks"]["database"] == "ok"


def test_healthz_reports_a_data_dir_it_cannot_write(busy_client, monkeypatch, tmp_path):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(health, "open", refuse, raising=False)
    response = busy_client.get("/healthz")
    assert response.status_code == 503 and response.json()["failing"] == ["disk"]


def test_healthz_reports_a_database_that_does_not_answer(busy_client, short_db, monkeypatch):
    def stuck(timeout: float = 2.0) -> None:
        time.sleep(5)

    monkeypatch.setattr(short_db, "ping", stuck)
    started = time.monotonic()
    response = busy_client.get("/healthz")
    assert time.monotonic() - started < 4  # bounded by health_timeout_seconds (2 s)
    assert response.status_code == 503 and response.json()["failing"] == ["database"]
