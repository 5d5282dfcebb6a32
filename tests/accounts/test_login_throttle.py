"""Finding 5: sign-in is throttled per account and per address (delay, then a lockout, both
audited and shared by every process through the database), an unknown name costs as much as
a known one, and the password hash never runs while the write lock is held."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from kesu.accounts import login as login_module
from kesu.accounts.models import AuditLog, LoginThrottle
from tests.web.conftest import login

PASSWORD = "password-123"


def _fail(browser, clock, username: str, times: int) -> None:
    for _ in range(times):
        assert login(browser, username, "wrong-password").status_code == 400
        clock.advance(minutes=1)  # past the growing delay (1 s, 2 s, 4 s …)


def test_five_failures_lock_the_account_for_fifteen_minutes(browser, make_user, clock, db):
    make_user("agent1")
    _fail(browser, clock, "agent1", 5)
    locked = login(browser, "agent1", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "已暂时锁定" in locked.text
    assert browser.get("/", follow_redirects=False).status_code == 303  # not signed in
    clock.advance(minutes=15)
    assert login(browser, "agent1", PASSWORD).status_code == 303
    with db.session(write=False) as session:
        actions = list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions.count("login.failed") == 5
    assert actions.count("login.locked") == 1


def test_the_lockout_message_is_in_the_users_language(browser, make_user, clock):
    make_user("agent1")
    _fail(browser, clock, "agent1", 5)
    browser.cookies.set("lang", "en")
    locked = login(browser, "agent1", PASSWORD)
    assert locked.status_code == 429
    assert "locked" in locked.text.lower() and "已暂时锁定" not in locked.text


def test_a_quick_retry_waits_and_says_so(browser, make_user, clock):
    make_user("agent1")
    assert login(browser, "agent1", "wrong-password").status_code == 400
    too_soon = login(browser, "agent1", PASSWORD)
    assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "1"
    clock.advance(seconds=1)
    assert login(browser, "agent1", PASSWORD).status_code == 303


def test_one_address_guessing_many_accounts_is_locked_out(browser, make_user, clock, settings):
    make_user("agent1")
    for n in range(settings.login_max_failures_per_address):
        assert login(browser, f"nobody{n}", "guess").status_code == 400
        clock.advance(seconds=2)
    assert login(browser, "agent1", PASSWORD).status_code == 429


def test_the_throttle_is_shared_through_the_database(browser, make_user, clock, db, app):
    """Another process sees the same rows: a fresh app on the same database is locked too."""
    from fastapi.testclient import TestClient

    from kesu.web.app import create_app

    make_user("agent1")
    _fail(browser, clock, "agent1", 5)
    with db.session(write=False) as session:
        row = session.get(LoginThrottle, "u:agent1")
        assert row is not None and row.locked_until is not None
    other = create_app(app.state.settings, clock=clock, db=db)
    with TestClient(other, headers={"Accept": "text/html"}) as second:
        assert login(second, "agent1", PASSWORD).status_code == 429


def test_an_unknown_username_verifies_a_hash_too(browser, make_user, monkeypatch):
    make_user("agent1")
    calls: list[str] = []
    real = login_module.verify_password

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(login_module, "verify_password", counting)
    assert login(browser, "no-such-user", "whatever").status_code == 400
    assert login(browser, "agent1", "wrong-password").status_code == 400
    assert len(calls) == 2 and all(h.startswith("$argon2") for h in calls)


def test_the_password_hash_runs_without_the_write_lock(browser, make_user, db, clock, monkeypatch):
    """While the password is being verified another writer must get through at once."""
    make_user("agent1")
    real = login_module.verify_password
    wrote: list[bool] = []

    def write_meanwhile() -> None:
        with db.session() as session:
            session.add(
                AuditLog(
                    at=clock.now(),
                    actor_label="probe",
                    action="probe",
                    entity="x",
                    entity_id="1",
                    changes={},
                )
            )
            session.commit()
        wrote.append(True)

    def verify_while_writing(password_hash: str, password: str) -> bool:
        writer = threading.Thread(target=write_meanwhile, daemon=True)
        writer.start()
        writer.join(timeout=3)
        wrote.append(not writer.is_alive())
        return real(password_hash, password)

    monkeypatch.setattr(login_module, "verify_password", verify_while_writing)
    assert login(browser, "agent1", PASSWORD).status_code == 303
    assert wrote[-1] is True, "another writer waited for the sign-in's password hash"


def test_minting_a_token_with_a_wrong_password_counts_as_a_failure(client, make_user, clock):
    _, headers = make_user("agent1")
    for _ in range(5):
        wrong = client.post("/api/v1/tokens", json={"password": "nope-nope"}, headers=headers)
        assert wrong.status_code == 403 and wrong.json()["field"] == "password"
        clock.advance(timedelta(minutes=1))
    locked = client.post("/api/v1/tokens", json={"password": PASSWORD}, headers=headers)
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_throttled" and "retry-after" in locked.headers
