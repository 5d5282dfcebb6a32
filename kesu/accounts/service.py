"""Users, teams, tokens and password checks."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import ApiToken, Team, User
from kesu.accounts.roles import Role
from kesu.clock import Clock
from kesu.errors import Conflict, InvalidInput, NotFound

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
TOKEN_PREFIX = "kesu_"


@dataclass(frozen=True)
class Actor:
    """Who performs a change: a staff user, the customer (by tracking token) or the system."""

    kind: str
    user: User | None = None
    label: str = ""

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def role(self) -> str | None:
        return self.user.role if self.user else None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls("user", user, user.label)


SYSTEM = Actor("system", None, "系统")
CUSTOMER = Actor("customer", None, "客户")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput(
            "密码至少 8 位 (password must have at least 8 characters)", field="password"
        )


def create_team(
    session: Session,
    clock: Clock,
    actor: Actor,
    code: str,
    name: str,
    name_en: str = "",
    parent_id: int | None = None,
) -> Team:
    if not re.fullmatch(r"[a-z0-9_\-]{1,64}", code):
        raise InvalidInput("团队代码只能包含小写字母、数字、_ 和 - (team code)", field="code")
    if not name.strip():
        raise InvalidInput("团队名称不能为空 (name is required)", field="name")
    if session.scalar(select(Team.id).where(Team.code == code)):
        raise Conflict(f"团队代码已存在: {code} (team code exists)", field="code")
    team = Team(
        code=code, name=name.strip(), name_en=name_en, parent_id=parent_id, created_at=clock.now()
    )
    session.add(team)
    session.flush()
    record_audit(
        session, clock, actor, "team.create", "team", team.id, {"code": code, "name": name}
    )
    return team


def team_by_code(session: Session, code: str) -> Team:
    team = session.scalar(select(Team).where(Team.code == code))
    if team is None:
        raise NotFound(f"没有这个团队: {code} (no such team)", field="team")
    return team


def create_user(
    session: Session,
    clock: Clock,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: str,
    team_code: str | None = None,
    display_name: str = "",
    email: str | None = None,
    phone: str | None = None,
) -> User:
    if not USERNAME_RE.match(username):
        raise InvalidInput("用户名需 2-64 位字母数字 (invalid username)", field="username")
    validate_password(password)
    try:
        Role(role)
    except ValueError:
        raise InvalidInput(f"未知角色: {role} (unknown role)", field="role") from None
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"用户名已存在: {username} (username exists)", field="username")
    team = team_by_code(session, team_code) if team_code else None
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        team_id=team.id if team else None,
        display_name=display_name or username,
        email=email,
        phone=phone,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "user.create",
        "user",
        user.id,
        {"username": username, "role": role, "team": team_code},
    )
    return user


def authenticate(session: Session, clock: Clock, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        return None
    user.last_login_at = clock.now()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, clock: Clock, actor: Actor, user: User, name: str = "") -> str:
    """Returns the plain token; only its digest is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            token_hash=_digest(token),
            prefix=token[:12],
            created_at=clock.now(),
        )
    )
    record_audit(session, clock, actor, "token.create", "user", user.id, {"name": name})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.execute(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    return row if row is not None and row.is_active else None


def deactivate_user(session: Session, clock: Clock, actor: Actor, target: User) -> None:
    """Stops a user from signing in or using tokens (their history stays). Not oneself."""
    if actor.user_id == target.id:
        raise InvalidInput("不能停用自己的账号 (cannot deactivate yourself)", field="user")
    if not target.is_active:
        return
    target.is_active = False
    record_audit(
        session,
        clock,
        actor,
        "user.deactivate",
        "user",
        target.id,
        {"username": target.username, "is_active": [True, False]},
    )
    token_cache.forget()


class TokenCache:
    """Recently seen API tokens → their (detached, read-only) user, for a few seconds.

    Integrations call the API many times a second; looking the token up each time costs a
    query per request. A revoked token or a deactivated user stops working in this process at
    once (``forget``) and in other processes within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, User]] = {}
        self._lock = threading.Lock()

    def user(self, session: Session, token: str) -> User | None:
        key = (str(session.get_bind().engine.url), _digest(token))
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        user = user_for_token(session, token)
        if user is not None:
            session.expunge(user)
            with self._lock:
                self._entries[key] = (now, user)
        return user

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


token_cache = TokenCache()


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"没有这个用户: {user_id} (no such user)", field="user")
    return user
