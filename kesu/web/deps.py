"""Request dependencies: the session, the clock, settings and the current user.

Write routes open their unit of work inside the route, ``with db.session() as session:``, and
commit before they answer, so a client never sees a success for a change that did not reach
the database. The unit of work must not be a generator dependency: FastAPI runs its exit in
another pool thread, and on SQLite a transaction holding the write lock while it waits for a
free thread can stall every other writer.
"""

from __future__ import annotations

from collections.abc import Iterator
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


def write_session(request: Request) -> Iterator[Session]:
    """A session whose transaction takes the write lock up front (SQLite: BEGIN IMMEDIATE)."""
    with get_database(request).session(write=True) as session:
        yield session


def read_session(request: Request) -> Iterator[Session]:
    with get_database(request).session(write=False) as session:
        yield session


WriteSession = Annotated[Session, Depends(write_session)]  # deprecated: see the module doc
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
