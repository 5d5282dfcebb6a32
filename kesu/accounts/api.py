"""JSON routes for users, teams and API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import select

from kesu.accounts import service
from kesu.accounts.models import Team, User
from kesu.accounts.roles import Permission
from kesu.accounts.schemas import TeamCreate, TeamOut, TokenCreate, TokenOut, UserCreate, UserOut
from kesu.complaints.access import require
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, actor_for

router = APIRouter(prefix="/api/v1", tags=["accounts"])


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
def me(user: UserR) -> dict[str, Any]:
    return user_out(user)


@router.get("/users", response_model=list[UserOut])
def list_users(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    require(user, Permission.complaint_read)
    return [user_out(u) for u in session.scalars(select(User).order_by(User.username))]


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
def create_user(body: UserCreate, db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
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
def list_teams(session: ReadSession, user: UserR) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.id)))


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut)
def create_team(body: TeamCreate, db: DatabaseDep, user: UserW, clock: ClockDep) -> Team:
    with db.session() as session:
        require(user, Permission.admin)
        team = service.create_team(
            session, clock, actor_for(user), body.code, body.name, body.name_en, body.parent_id
        )
        session.commit()
        return team


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
def create_token(
    body: TokenCreate, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, str]:
    """A new API token for the caller; shown once."""
    with db.session() as session:
        token = service.create_token(session, clock, actor_for(user), user, body.name)
        session.commit()
        return {"token": token}
