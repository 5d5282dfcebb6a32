"""Request dependencies: the session, the clock, settings and the current user.

Write routes commit before they answer (``session.commit()``, or a
``with db.session() as session:`` block inside the route), so a client never sees a success
for a change that did not reach the database. The session dependencies are async generators so
their clean-up never waits for a pool thread (see ``write_session``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from kesu.accounts import sessions
from kesu.accounts.models import User
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.config import Settings
from kesu.db import Database
from kesu.errors import NotAuthenticated
from kesu.web.i18n import gettext as _

log = logging.getLogger(__name__)


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def write_session(request: Request) -> AsyncIterator[Session]:
    """A session whose transactions take the write lock (SQLite: flock + BEGIN IMMEDIATE).

    An *async* generator on purpose: its exit (commit or rollback, then close) runs on the
    event loop, not in a pool thread. A sync generator's exit waits for a free pool thread
    while its transaction may still hold the SQLite write lock, and under load every pool
    thread can be waiting for that lock: a deadlock. The route itself runs in a pool thread,
    does its work and normally commits; the exit is then only a cheap close.
    """
    with get_database(request).session(write=True) as session:
        yield session


async def read_session(request: Request) -> AsyncIterator[Session]:
    with get_database(request).session(write=False) as session:
        yield session


WriteSession = Annotated[Session, Depends(write_session)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ReadSession = Annotated[Session, Depends(read_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _resolve_user(request: Request, session: Session) -> User:
    """The user of the Bearer token, or of the server-side session named by the cookie.

    Both are looked up (with the user) on every request: a revoked token or session, an
    expired one, or a deactivated user is refused at once, on every process.
    """
    token = _bearer(request)
    clock = get_clock(request)
    user: User | None = None
    if token:
        user = sessions.user_for_token(session, clock, token)
        if user is None:
            raise NotAuthenticated(_("API token 无效、已过期或已吊销"))
    else:
        sid = request.session.get(sessions.COOKIE_KEY) if "session" in request.scope else None
        found = sessions.lookup(session, clock, sid) if isinstance(sid, str) and sid else None
        if found is not None:
            user, row = found
            if sessions.needs_touch(row, clock):
                _touch(request, row.id)
        elif sid:  # ended (logout, password reset) or expired: forget it, or /login bounces back
            request.session.pop(sessions.COOKIE_KEY, None)
    if user is None or not user.is_active:
        raise NotAuthenticated(_("需要登录或 API token"))
    request.state.user = user
    return user


def _touch(request: Request, session_id: int) -> None:
    """Refreshes ``last_seen_at`` (at most every few minutes; a short write of its own)."""
    try:
        with get_database(request).session() as session:
            sessions.touch(session, get_clock(request), session_id)
            session.commit()
    except Exception:  # "last seen" must never fail a request
        log.warning("could not refresh last_seen_at of session %s", session_id, exc_info=True)


def current_user_write(request: Request) -> User:
    """Resolves the user in a short read-only session, so no write lock is held meanwhile."""
    with get_database(request).session(write=False) as session:
        return _resolve_user(request, session)


def current_user_read(request: Request, session: ReadSession) -> User:
    return _resolve_user(request, session)


UserW = Annotated[User, Depends(current_user_write)]
UserR = Annotated[User, Depends(current_user_read)]


def actor_for(user: User) -> Actor:
    return Actor.of(user)
