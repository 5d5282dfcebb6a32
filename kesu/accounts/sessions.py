"""Server-side sign-in sessions and the resolution of API tokens.

The signed cookie carries only ``sid``, a random 256-bit id; the database keeps its SHA-256
with the user, when it was created and last seen, when it expires and whether it was revoked.
Every request looks its session (or token) up together with the user, so signing out,
revoking a token or deactivating a user takes effect at once on every process.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kesu.accounts.models import ApiToken, User, UserSession
from kesu.clock import Clock

COOKIE_KEY = "sid"
# ``last_seen_at`` is refreshed at most this often (a short write, never on every request).
SEEN_EVERY = timedelta(minutes=5)


def digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session, clock: Clock, user: User, hours: float, address: str | None = None
) -> str:
    """A new session row for ``user``; returns the plain id for the cookie."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        UserSession(
            token_hash=digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=hours),
            address=(address or "")[:64],
        )
    )
    return token


def lookup(session: Session, clock: Clock, token: str) -> tuple[User, UserSession] | None:
    """The active user of a live session, or None (unknown, expired, revoked, deactivated)."""
    row = session.execute(
        select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.token_hash == digest(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > clock.now(),
            User.is_active.is_(True),
        )
    ).one_or_none()
    return (row[0], row[1]) if row is not None else None


def needs_touch(row: UserSession, clock: Clock) -> bool:
    return row.last_seen_at + SEEN_EVERY <= clock.now()


def touch(session: Session, clock: Clock, session_id: int) -> None:
    session.execute(
        update(UserSession).where(UserSession.id == session_id).values(last_seen_at=clock.now())
    )


def end(session: Session, clock: Clock, token: str) -> None:
    """Revokes the session ``token`` (signing out)."""
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


def revoke_everything(session: Session, clock: Clock, user_id: int) -> None:
    """Ends every session and revokes every token of ``user_id`` (deactivation)."""
    now = clock.now()
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def user_for_token(session: Session, clock: Clock, token: str) -> User | None:
    """The active user of a live (not revoked, not expired) API token."""
    return session.execute(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == digest(token),
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > clock.now()),
            User.is_active.is_(True),
        )
    ).scalar_one_or_none()
