"""Request dependencies: the session, the clock, settings and the current user.

Write routes commit before they answer (``session.commit()``, or a
``with db.session() as session:`` block inside the route), so a client never sees a success
for a change that did not reach the database. The session dependencies are async generators so
their clean-up never waits for a pool thread (see ``write_session``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.accounts.service import Actor, token_cache
from kesu.clock import Clock
from kesu.config import Settings
from kesu.db import Database
from kesu.errors import NotAuthenticated


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
    token = _bearer(request)
    user: User | None = None
    if token:
        user = token_cache.user(session, token)
        if user is None:
            raise NotAuthenticated("API token 无效或已吊销 (invalid or revoked token)")
    else:
        user_id = request.session.get("user_id") if "session" in request.scope else None
        if user_id is not None:
            user = session.get(User, int(user_id))
    if user is None or not user.is_active:
        raise NotAuthenticated("需要登录或 API token (authentication required)")
    request.state.user = user
    return user


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
