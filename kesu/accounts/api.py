"""JSON routes for users, teams and API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from sqlalchemy import select

from kesu.accounts import login, service
from kesu.accounts.models import ApiToken, Team, User
from kesu.accounts.permissions import AnyUserR, AnyUserW, Needs, NeedsW, Permission, check
from kesu.accounts.schemas import (
    TeamCreate,
    TeamOut,
    TokenCreate,
    TokenInfo,
    TokenOut,
    UserCreate,
    UserOut,
)
from kesu.clock import Clock
from kesu.config import Settings
from kesu.db import Database
from kesu.errors import Forbidden, InvalidInput, NotFound
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, SettingsDep, actor_for
from kesu.web.i18n import gettext as _

router = APIRouter(prefix="/api/v1", tags=["accounts"])
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "team": user.team.code if user.team else None,
        "email": user.email,
        "is_active": user.is_active,
        "created_at": user.created_at,
    }


@router.get("/me", response_model=UserOut)
def me(user: AnyUserR) -> dict[str, Any]:
    return user_out(user)


@router.get("/users", response_model=list[UserOut])
def list_users(
    session: ReadSession, user: Annotated[User, Needs(Permission.complaint_read)]
) -> list[dict[str, Any]]:
    return [user_out(u) for u in session.scalars(select(User).order_by(User.username))]


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
def create_user(
    body: UserCreate,
    db: DatabaseDep,
    user: Annotated[User, NeedsW(Permission.admin)],
    clock: ClockDep,
) -> dict[str, Any]:
    with db.session() as session:
        created = service.create_user(
            session,
            clock,
            actor_for(user),
            username=body.username,
            password=body.password,
            role=body.role,
            team_code=body.team,
            display_name=body.display_name,
            email=body.email,
            phone=body.phone,
        )
        session.commit()
        return user_out(created)


@router.get("/teams", response_model=list[TeamOut])
def list_teams(session: ReadSession, user: AnyUserR) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.id)))


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut)
def create_team(
    body: TeamCreate,
    db: DatabaseDep,
    user: Annotated[User, NeedsW(Permission.admin)],
    clock: ClockDep,
) -> Team:
    with db.session() as session:
        team = service.create_team(
            session, clock, actor_for(user), body.code, body.name, body.name_en, body.parent_id
        )
        session.commit()
        return team


def token_info(token: ApiToken, owner: str, clock: Clock) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "user": owner,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "state": service.token_state(token, clock),
    }


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
def create_token(
    request: Request,
    body: TokenCreate,
    db: DatabaseDep,
    user: Annotated[User, NeedsW(Permission.token_create)],
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """A new API token, shown once. For oneself the password is needed again (throttled like
    signing in); an admin may mint one for another user (``username``) without it. Tokens
    expire (``days``, default 90) and each user may hold only a few live ones."""
    plain, row, owner = mint_for(request, body, db, user, clock, settings)
    return {
        "token": plain,
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "user": owner,
        "expires_at": row.expires_at,
    }


def mint_for(
    request: Request,
    body: TokenCreate,
    db: Database,
    user: User,
    clock: Clock,
    settings: Settings,
) -> tuple[str, ApiToken, str]:
    """Checks who may mint for whom (and the password), then mints; shared with the page."""
    days = body.days or settings.token_days_default
    if days > settings.token_days_max:
        raise InvalidInput(
            _("有效期最长 %(days)s 天") % {"days": settings.token_days_max}, field="days"
        )
    for_other = body.username is not None and body.username != user.username
    if for_other:
        check(user, Permission.admin)
    else:
        if not body.password:
            raise InvalidInput(_("创建 API token 需要再次输入密码"), field="password")
        address = request.client.host if request.client else None
        verified = login.attempt(
            db,
            clock,
            settings,
            user.username,
            body.password,
            address,
            start_session=False,
            purpose="token.password",
        )
        if verified is None or verified.user_id != user.id:
            raise Forbidden(_("密码不正确"), field="password", code="wrong_password")
    with db.session() as session:
        if for_other:
            target = session.scalar(select(User).where(User.username == body.username))
            if target is None or not target.is_active:
                raise NotFound(_("没有这个用户：%(id)s") % {"id": body.username}, field="username")
        else:
            target = service.get_user(session, user.id)
        plain, row = service.mint_token(
            session,
            clock,
            actor_for(user),
            target,
            body.name,
            days=days,
            max_active=settings.tokens_per_user_max,
        )
        session.commit()
        return plain, row, target.username


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(
    session: ReadSession,
    user: AnyUserR,
    clock: ClockDep,
    username: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """The caller's tokens (newest first, revoked and expired included); an admin may ask for
    another user's (``username``) or everyone's (``username=*``)."""
    if username is not None and username != user.username:
        check(user, Permission.admin)
    owners = {i: n for i, n in session.execute(select(User.id, User.username))}
    if username == "*":
        tokens = service.list_tokens(session)
    else:
        wanted = username or user.username
        owner_id = next((i for i, n in owners.items() if n == wanted), None)
        tokens = service.list_tokens(session, owner_id) if owner_id is not None else []
    return [token_info(t, owners.get(t.user_id, ""), clock) for t in tokens]


@router.delete("/tokens/{token_id}", response_model=TokenInfo)
def revoke_token(
    token_id: TokenId, db: DatabaseDep, user: AnyUserW, clock: ClockDep
) -> dict[str, Any]:
    """Revokes one of the caller's tokens (an admin: anyone's). At once, on every process."""
    with db.session() as session:
        token = service.revoke_token(session, clock, actor_for(user), token_id)
        owner = session.get(User, token.user_id)
        session.commit()
        return token_info(token, owner.username if owner else "", clock)
