"""Users, teams, tokens and password checks."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import ApiToken, Team, User
from kesu.accounts.roles import Role
from kesu.accounts.schemas import checked_email
from kesu.clock import Clock
from kesu.errors import Conflict, InvalidInput, NotFound
from kesu.web.i18n import gettext as _

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
        raise InvalidInput(_("密码至少 8 位"), field="password")


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
        raise InvalidInput(_("团队代码只能包含小写字母、数字、_ 和 -"), field="code")
    if not name.strip():
        raise InvalidInput(_("团队名称不能为空"), field="name")
    if session.scalar(select(Team.id).where(Team.code == code)):
        raise Conflict(_("团队代码已存在：%(code)s") % {"code": code}, field="code")
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
        raise NotFound(_("没有这个团队：%(code)s") % {"code": code}, field="team")
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
        raise InvalidInput(_("用户名需 2-64 位字母、数字或 _ . -"), field="username")
    validate_password(password)
    try:
        Role(role)
    except ValueError:
        raise InvalidInput(_("未知角色：%(role)s") % {"role": role}, field="role") from None
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(_("用户名已存在：%(name)s") % {"name": username}, field="username")
    email = checked_email(email)
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


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so both take as long."""
    return _hasher.hash(secrets.token_urlsafe(16))


def check_credentials(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None. Always verifies one argon2 hash
    (a dummy one for an unknown or inactive user): the time does not tell names apart.
    A read: call it in a read session, never while holding the write lock."""
    user = session.scalar(select(User).where(User.username == username))
    known = user is not None and user.is_active
    ok = verify_password(user.password_hash if known and user else _dummy_hash(), password)
    return user if known and ok else None


def authenticate(session: Session, clock: Clock, username: str, password: str) -> User | None:
    """Kept for scripts: checks the password and stamps ``last_login_at`` in one session.
    Pages and the API use ``kesu.accounts.login.attempt`` (throttled, no lock while hashing)."""
    user = check_credentials(session, username, password)
    if user is not None:
        user.last_login_at = clock.now()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    clock: Clock,
    actor: Actor,
    user: User,
    name: str = "",
    *,
    days: int | None = None,
    max_active: int | None = None,
) -> str:
    """Returns the plain token; only its digest is kept. ``days=None``: it never expires
    (fixtures and scripts; the API, the page and the CLI always give a lifetime)."""
    return mint_token(session, clock, actor, user, name, days=days, max_active=max_active)[0]


def mint_token(
    session: Session,
    clock: Clock,
    actor: Actor,
    user: User,
    name: str = "",
    *,
    days: int | None = 90,
    max_active: int | None = None,
) -> tuple[str, ApiToken]:
    """A new token for ``user`` valid ``days`` days (None: no expiry, for scripts only);
    refused when ``user`` already has ``max_active`` live tokens."""
    now = clock.now()
    if max_active is not None and len(active_tokens(session, clock, user.id)) >= max_active:
        raise Conflict(
            _("每个用户最多 %(n)s 个有效 API token，请先吊销不用的") % {"n": max_active},
            field="token",
            code="too_many_tokens",
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(token),
        prefix=token[:12],
        created_at=now,
        expires_at=now + timedelta(days=days) if days is not None else None,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "token.create",
        "user",
        user.id,
        {"name": name, "token_id": row.id, "expires_at": row.expires_at},
    )
    return token, row


def _live(clock: Clock) -> ColumnElement[bool]:
    return and_(
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > clock.now()),
    )


def active_tokens(session: Session, clock: Clock, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, _live(clock))
            .order_by(ApiToken.id.desc())
        )
    )


def list_tokens(session: Session, user_id: int | None = None) -> list[ApiToken]:
    """Tokens (newest first), of one user or of everyone; revoked and expired ones included."""
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return list(session.scalars(stmt))


def token_state(token: ApiToken, clock: Clock) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= clock.now():
        return "expired"
    return "active"


def revoke_token(session: Session, clock: Clock, actor: Actor, token_id: int) -> ApiToken:
    """Revokes a token of the actor's own, or anyone's for an admin; 404 for another's."""
    token = session.get(ApiToken, token_id)
    mine = token is not None and actor.user_id == token.user_id
    if token is None or not (mine or actor.role == Role.admin.value):
        raise NotFound(_("没有这个 API token：%(id)s") % {"id": token_id}, field="token_id")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        record_audit(
            session,
            clock,
            actor,
            "token.revoke",
            "user",
            token.user_id,
            {"token_id": token.id, "name": token.name},
        )
    return token


def user_for_token(session: Session, token: str, clock: Clock | None = None) -> User | None:
    from kesu.accounts import sessions
    from kesu.clock import SystemClock

    return sessions.user_for_token(session, clock or SystemClock(), token)


def deactivate_user(session: Session, clock: Clock, actor: Actor, target: User) -> None:
    """Stops a user from signing in or using tokens (their history stays). Not oneself."""
    if actor.user_id == target.id:
        raise InvalidInput(_("不能停用自己的账号"), field="user")
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
    from kesu.accounts import sessions

    sessions.revoke_everything(session, clock, target.id)


class TokenCache:
    """Kept for callers of ``forget()``. Tokens are no longer cached: every request looks its
    token up with the user (one indexed query), so a revoked token, an expired one, a
    deactivated user or a changed role takes effect at once on every process."""

    def user(self, session: Session, token: str, clock: Clock | None = None) -> User | None:
        return user_for_token(session, token, clock)

    def forget(self) -> None:
        """Nothing is cached any more."""


token_cache = TokenCache()


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("没有这个用户：%(id)s") % {"id": user_id}, field="user")
    return user


# ---- user administration (the admin's user page) -------------------------------------------

PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{2,30}$")
GENERATED_PASSWORD_BYTES = 12  # 16 URL-safe characters


def _checked_email(value: str | None) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    from kesu.web.i18n import gettext as _

    text = (value or "").strip()
    if not text:
        return None
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise InvalidInput(_("邮箱地址无效"), field="email") from None


def update_user_profile(
    session: Session,
    clock: Clock,
    actor: Actor,
    target: User,
    *,
    display_name: str,
    email: str | None,
    phone: str | None,
) -> dict[str, list[object]]:
    """Display name, email and phone of a user; returns (and audits) what changed."""
    from kesu.web.i18n import gettext as _

    name = display_name.strip()
    if len(name) > 128:
        raise InvalidInput(_("姓名最多 128 个字符"), field="display_name")
    clean_phone = (phone or "").strip() or None
    if clean_phone is not None and not PHONE_RE.match(clean_phone):
        raise InvalidInput(_("电话号码无效"), field="phone")
    wanted = {
        "display_name": name or target.username,
        "email": _checked_email(email),
        "phone": clean_phone,
    }
    diff: dict[str, list[object]] = {}
    for key, value in wanted.items():
        if getattr(target, key) != value:
            diff[key] = [getattr(target, key), value]
            setattr(target, key, value)
    if diff:
        record_audit(session, clock, actor, "user.update", "user", target.id, diff)
    return diff


def change_user_role(
    session: Session,
    clock: Clock,
    actor: Actor,
    target: User,
    *,
    role: str,
    team_code: str | None,
) -> dict[str, list[object]]:
    """A user's role and team. An admin cannot take their own admin role away (nobody would
    be left to give it back). Takes effect on the user's next request, tokens included."""
    from kesu.web.i18n import gettext as _

    try:
        new_role = Role(role)
    except ValueError:
        raise InvalidInput(_("未知角色：%(role)s") % {"role": role}, field="role") from None
    if actor.user_id == target.id and new_role != Role(target.role):
        raise InvalidInput(_("不能修改自己的角色"), field="role")
    team = None
    if team_code:
        team = session.scalar(select(Team).where(Team.code == team_code, Team.is_active))
        if team is None:
            raise InvalidInput(_("没有这个团队：%(code)s") % {"code": team_code}, field="team")
    diff: dict[str, list[object]] = {}
    if target.role != new_role.value:
        diff["role"] = [target.role, new_role.value]
        target.role = new_role.value
    if target.team_id != (team.id if team else None):
        diff["team"] = [target.team.code if target.team else None, team.code if team else None]
        target.team_id = team.id if team else None
        target.team = team
    if diff:
        record_audit(session, clock, actor, "user.role_change", "user", target.id, diff)
        token_cache.forget()
    return diff


def reset_password(
    session: Session, clock: Clock, actor: Actor, target: User, new_password: str | None
) -> str:
    """Sets ``new_password``, or a generated one when it is None; returns the password (to be
    shown to the admin once; only its hash is kept, and the audit row has neither). The user's
    open sessions end; their API tokens stay (revoke those on the tokens page)."""
    from sqlalchemy import update

    from kesu.accounts.models import UserSession

    password = new_password if new_password is not None else generate_password()
    validate_password(password)
    target.password_hash = hash_password(password)
    if actor.user_id != target.id:  # whoever knew the old password is signed out
        session.execute(
            update(UserSession)
            .where(UserSession.user_id == target.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        )
    record_audit(
        session,
        clock,
        actor,
        "user.password_reset",
        "user",
        target.id,
        {"username": target.username, "generated": new_password is None},
    )
    return password


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def reactivate_user(session: Session, clock: Clock, actor: Actor, target: User) -> bool:
    """Lets a deactivated user sign in again (the sessions and tokens revoked when they were
    deactivated stay revoked). Returns False when the user was already active."""
    if target.is_active:
        return False
    target.is_active = True
    record_audit(
        session,
        clock,
        actor,
        "user.reactivate",
        "user",
        target.id,
        {"username": target.username, "is_active": [False, True]},
    )
    token_cache.forget()
    return True
