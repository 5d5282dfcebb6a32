"""Checking a password, as the sign-in page and token minting do.

Three steps, so the slow argon2 hash never runs while the write lock is held:

1. a read session: the throttle (``LoginThrottled``, 429, before the password is looked at)
   and the user, whose hash (or a dummy one for an unknown name) is verified;
2. the hash, outside any transaction;
3. one short write: a failure counts against the account and the address (audited, perhaps a
   lockout); a success clears the account's counter, stamps ``last_login_at`` and, for a
   page, starts the server-side session.

The write commits here, not in the route: a refused password must be counted even though the
request fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kesu.accounts import sessions, throttle
from kesu.accounts.audit import record_audit
from kesu.accounts.models import User
from kesu.accounts.service import Actor, _dummy_hash, verify_password
from kesu.clock import Clock
from kesu.config import Settings
from kesu.db import Database


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    username: str
    session_token: str | None  # for the cookie, when a session was started


def attempt(
    db: Database,
    clock: Clock,
    settings: Settings,
    username: str,
    password: str,
    address: str | None,
    *,
    start_session: bool = True,
    purpose: str = "login",
) -> SignedIn | None:
    """None for a wrong name or password (counted); ``LoginThrottled`` while it must wait."""
    policy = throttle.Policy.of(settings)
    names = throttle.keys(username, address)
    with db.session(write=False) as session:
        throttle.check(session, clock, policy, names)
        row = session.execute(
            select(User.id, User.password_hash, User.is_active).where(User.username == username)
        ).one_or_none()
    known = row is not None and bool(row.is_active)
    ok = verify_password(
        row.password_hash if row is not None and known else _dummy_hash(), password
    )
    with db.session() as session:
        if not (known and ok):
            throttle.record_failure(session, clock, policy, names, username)
            session.commit()
            return None
        assert row is not None
        user = session.get(User, row.id)
        if user is None or not user.is_active:  # deactivated meanwhile
            session.rollback()
            return None
        throttle.clear_account(session, names)
        token = None
        if start_session:
            user.last_login_at = clock.now()
            token = sessions.start(session, clock, user, settings.session_hours, address)
        record_audit(
            session,
            clock,
            Actor.of(user),
            f"{purpose}.ok",
            "user",
            user.id,
            {"address": address},
        )
        session.commit()
        return SignedIn(user.id, user.username, token)


def end_session(db: Database, clock: Clock, token: str) -> None:
    with db.session() as session:
        sessions.end(session, clock, token)
        session.commit()
