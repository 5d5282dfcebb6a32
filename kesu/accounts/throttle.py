"""Sign-in throttle: per account and per client address, in the database (every process).

After each failed password the next try on that account must wait ``base × 2^(failures-1)``
seconds; at ``max_failures`` failures the account is locked for ``lockout``. An address (many
people may share one) is not delayed, only locked after ``max_failures_per_address``. A try that
comes too early is refused with ``LoginThrottled`` (429, ``Retry-After``) *before* the password
is looked at. A success clears the account's counter (not the address's: a valid account of
one's own must not reset the counter an attacker builds up against others). Failures and
lockouts are audited.

Checking is a read; recording is one short write after the (slow) password hash, never
during it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import LoginThrottle
from kesu.clock import Clock
from kesu.config import Settings
from kesu.errors import KesuError
from kesu.web.i18n import gettext as _


class LoginThrottled(KesuError):
    status_code = 429
    code = "login_throttled"

    def __init__(self, retry_after: int, locked: bool) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        if locked:
            message = _("登录失败次数过多，已暂时锁定，请 %(minutes)s 分钟后再试。") % {
                "minutes": minutes
            }
        else:
            message = _("登录尝试过于频繁，请 %(seconds)s 秒后再试。") % {"seconds": retry_after}
        super().__init__(message, field="password")
        self.retry_after = retry_after
        self.locked = locked
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class Policy:
    delay_base: float = 1.0
    max_failures: int = 5
    max_failures_per_address: int = 20
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            settings.login_delay_base_seconds,
            max(1, settings.login_max_failures),
            max(1, settings.login_max_failures_per_address),
            timedelta(minutes=settings.login_lockout_minutes),
        )

    def limit(self, key: str) -> int:
        return self.max_failures_per_address if key.startswith("a:") else self.max_failures


def keys(username: str, address: str | None) -> list[str]:
    found = ["u:" + username.strip().lower()[:190]]
    if address:
        found.append("a:" + address[:190])
    return found


def _wait(row: LoginThrottle, now: datetime, policy: Policy) -> tuple[float, bool]:
    """Seconds until ``row`` allows another try, and whether that is a lockout."""
    if row.locked_until is not None and row.locked_until > now:
        return (row.locked_until - now).total_seconds(), True
    if row.last_failure_at + policy.lockout <= now or row.key.startswith("a:"):
        return 0.0, False  # old failures are forgotten; an address only counts to a lockout
    delay = policy.delay_base * 2 ** min(row.failures - 1, 20)
    ready = row.last_failure_at + timedelta(seconds=delay)
    return max(0.0, (ready - now).total_seconds()), False


def check(session: Session, clock: Clock, policy: Policy, names: list[str]) -> None:
    """Raises ``LoginThrottled`` if any of ``names`` must still wait (a read, no lock)."""
    now = clock.now()
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(names)))
    waits = [_wait(row, now, policy) for row in rows]
    blocking = [w for w in waits if w[0] > 0]
    if blocking:
        seconds, locked = max(blocking)
        raise LoginThrottled(max(1, math.ceil(seconds)), locked)


def record_failure(
    session: Session, clock: Clock, policy: Policy, names: list[str], username: str
) -> bool:
    """Counts a failed try (inside a short write); True if it locked the account/address."""
    from kesu.accounts.service import SYSTEM

    now = clock.now()
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    locked_any = False
    for key in names:
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is not None and row.last_failure_at + policy.lockout <= now:
            row.failures = 0  # an old streak: start over
        if row is None:
            session.execute(
                dialect.insert(LoginThrottle)
                .values(key=key, failures=0, last_failure_at=now, locked_until=None)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
            assert row is not None
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= policy.limit(key):
            row.locked_until = now + policy.lockout
            row.failures = 0
            locked_any = True
            record_audit(
                session,
                clock,
                SYSTEM,
                "login.locked",
                "login",
                key[:64],
                {"username": username, "until": row.locked_until},
            )
    record_audit(
        session,
        clock,
        SYSTEM,
        "login.failed",
        "login",
        names[0][:64],
        {"username": username, "address": names[1][2:] if len(names) > 1 else None},
    )
    return locked_any


def clear_account(session: Session, names: list[str]) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == names[0]))
