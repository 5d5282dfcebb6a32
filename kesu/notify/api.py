"""JSON routes: the bell, channel preferences, failed deliveries and channel endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import require
from kesu.errors import NotFound
from kesu.notify import admin
from kesu.notify.models import NotifyEndpoint
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, actor_for

router = APIRouter(prefix="/api/v1", tags=["notifications"])
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Before = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadIn(_Strict):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None, max_length=500, description="omit to mark everything read"
    )


class PreferencesIn(_Strict):
    channels: list[str] = Field(max_length=10)


class EndpointIn(_Strict):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=128)
    kind: Literal["dingtalk", "feishu", "wecom", "webhook", "sms"]
    config: dict[str, Any]
    events: list[str] = Field(default_factory=list, max_length=50)
    teams: list[str] = Field(default_factory=list, max_length=100)
    locale: Literal["zh_CN", "en"] = "zh_CN"
    is_active: bool = True


class EndpointPatch(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    config: dict[str, Any] | None = None
    events: list[str] | None = Field(default=None, max_length=50)
    teams: list[str] | None = Field(default=None, max_length=100)
    locale: Literal["zh_CN", "en"] | None = None
    is_active: bool | None = None


@router.get("/notifications", dependencies=[Needs(Permission.signed_in)])
def notifications(
    session: ReadSession,
    user: UserR,
    limit: Limit = 20,
    before: Before = None,
    unread: bool = False,
) -> dict[str, Any]:
    """The bell: the unread count and the latest notifications, newest first."""
    return admin.inbox(session, user, limit, before, unread)


@router.post("/notifications/read", dependencies=[NeedsW(Permission.signed_in)])
def mark_read(body: ReadIn, db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    with db.session() as session:
        marked = admin.mark_read(session, clock, user, body.ids)
        session.commit()
        return {"marked": marked, "unread": admin.unread_count(session, user)}


@router.get("/notifications/preferences", dependencies=[Needs(Permission.signed_in)])
def get_preferences(session: ReadSession, user: UserR) -> dict[str, Any]:
    return {"channels": admin.preferences(session, user), "available": ["in_app", "email", "sms"]}


@router.put("/notifications/preferences", dependencies=[NeedsW(Permission.signed_in)])
def put_preferences(
    body: PreferencesIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        channels = admin.set_preferences(session, clock, user, body.channels)
        session.commit()
        return {"channels": channels, "available": ["in_app", "email", "sms"]}


@router.get("/outbox", dependencies=[Needs(Permission.admin)])
def outbox(
    session: ReadSession,
    user: UserR,
    status_: Annotated[
        Literal["pending", "sending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    limit: Limit = 50,
    before: Before = None,
) -> dict[str, Any]:
    """Deliveries, newest first; ``status=failed`` lists those that gave up (admins)."""
    require(user, Permission.admin)
    return admin.outbox(session, status_, limit, before)


@router.post("/outbox/{row_id}/retry", dependencies=[NeedsW(Permission.admin)])
def retry(row_id: RowId, db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        row = admin.retry(session, clock, actor_for(user), row_id)
        session.commit()
        return admin.outbox_out(row)


@router.get("/notify/endpoints", dependencies=[Needs(Permission.admin)])
def list_endpoints(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    require(user, Permission.admin)
    rows = session.scalars(select(NotifyEndpoint).order_by(NotifyEndpoint.code))
    return [admin.endpoint_out(r) for r in rows]


@router.post(
    "/notify/endpoints",
    dependencies=[NeedsW(Permission.admin)],
    status_code=status.HTTP_201_CREATED,
)
def create_endpoint(
    body: EndpointIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        row = admin.save_endpoint(session, clock, actor_for(user), body.model_dump(), None)
        session.commit()
        return admin.endpoint_out(row)


@router.patch("/notify/endpoints/{row_id}", dependencies=[NeedsW(Permission.admin)])
def update_endpoint(
    row_id: RowId, body: EndpointPatch, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        row = session.get(NotifyEndpoint, row_id)
        if row is None:
            raise NotFound(f"没有这个通知渠道: {row_id}", field="id")
        fields = body.model_dump(exclude_unset=True)
        admin.save_endpoint(session, clock, actor_for(user), fields, row)
        session.commit()
        return admin.endpoint_out(row)
