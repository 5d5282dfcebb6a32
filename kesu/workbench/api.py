"""``/api/v1/views``: the caller's saved workbench views (and those shared with them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from kesu.accounts.models import User
from kesu.accounts.permissions import AnyUserR, AnyUserW, Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, actor_for
from kesu.workbench import saved
from kesu.workbench.models import SavedView

router = APIRouter(prefix="/api/v1/views", tags=["views"])
ViewId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)
    query: dict[str, str | int | bool] = Field(
        default_factory=dict, description="workbench parameters: tab, stage, …, sort"
    )
    visibility: Literal["private", "team", "all"] = "private"
    team_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ViewRename(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)


class ViewOut(BaseModel):
    id: int
    name: str
    query: dict[str, str]
    visibility: str
    team_id: int | None
    owner_id: int
    mine: bool
    url: str
    created_at: datetime
    updated_at: datetime


def view_out(view: SavedView, user: User) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "query": view.query,
        "visibility": view.visibility,
        "team_id": view.team_id,
        "owner_id": view.owner_id,
        "mine": view.owner_id == user.id,
        "url": saved.url_of(view),
        "created_at": view.created_at,
        "updated_at": view.updated_at,
    }


@router.get("", dependencies=[Needs(Permission.signed_in)], response_model=list[ViewOut])
def list_views(session: ReadSession, user: AnyUserR) -> list[dict[str, Any]]:
    return [view_out(v, user) for v in saved.visible_views(session, user)]


@router.post(
    "",
    dependencies=[NeedsW(Permission.signed_in)],
    status_code=status.HTTP_201_CREATED,
    response_model=ViewOut,
)
def create_view(body: ViewIn, db: DatabaseDep, user: AnyUserW, clock: ClockDep) -> dict[str, Any]:
    with db.session() as session:
        me = session.get(User, user.id) or user
        view = saved.create_view(
            session,
            clock,
            actor_for(me),
            me,
            body.name,
            dict(body.query),
            body.visibility,
            body.team_id,
        )
        session.commit()
        return view_out(view, me)


@router.patch("/{view_id}", dependencies=[NeedsW(Permission.signed_in)], response_model=ViewOut)
def rename_view(
    view_id: ViewId, body: ViewRename, db: DatabaseDep, user: AnyUserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        me = session.get(User, user.id) or user
        view = saved.rename_view(session, clock, actor_for(me), me, view_id, body.name)
        session.commit()
        return view_out(view, me)


@router.delete(
    "/{view_id}",
    dependencies=[NeedsW(Permission.signed_in)],
    status_code=status.HTTP_204_NO_CONTENT,
)
def delete_view(view_id: ViewId, db: DatabaseDep, user: AnyUserW, clock: ClockDep) -> Response:
    with db.session() as session:
        me = session.get(User, user.id) or user
        saved.delete_view(session, clock, actor_for(me), me, view_id)
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
