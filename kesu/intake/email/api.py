"""JSON routes: the IMAP mailboxes (admins) and what came in through them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import require
from kesu.intake.email import mailboxes
from kesu.intake.email.models import InboundMessage, Mailbox
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, SettingsDep, UserR, UserW, actor_for

router = APIRouter(prefix="/api/v1", tags=["email intake"])
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Before = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=200)]
Status = Annotated[Literal["complaint", "reply", "ignored", "duplicate", "review"] | None, Query()]
Addresses = list[Annotated[str, Field(max_length=254)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MailboxIn(_Strict):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=128)
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=993, ge=1, le=65535)
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = Field(min_length=1, max_length=255)
    password: str | None = Field(default=None, max_length=1024, description="stored encrypted")
    password_env: str | None = Field(
        default=None, max_length=128, description="name of the environment variable instead"
    )
    folder: str = Field(default="INBOX", min_length=1, max_length=255)
    poll_seconds: int = Field(default=60, ge=30, le=86400)
    category: str | None = Field(default=None, max_length=255)
    team: str | None = Field(default=None, max_length=64)
    own_addresses: Addresses = Field(default_factory=list, max_length=20)
    is_active: bool = True


class MailboxPatch(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    host: str | None = Field(default=None, min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: Literal["ssl", "starttls", "none"] | None = None
    username: str | None = Field(default=None, min_length=1, max_length=255)
    password: str | None = Field(default=None, max_length=1024)
    password_env: str | None = Field(default=None, max_length=128)
    folder: str | None = Field(default=None, min_length=1, max_length=255)
    poll_seconds: int | None = Field(default=None, ge=30, le=86400)
    category: str | None = Field(default=None, max_length=255)
    team: str | None = Field(default=None, max_length=64)
    own_addresses: Addresses | None = Field(default=None, max_length=20)
    is_active: bool | None = None


def message_out(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "mailbox_id": row.mailbox_id,
        "uidvalidity": row.uidvalidity,
        "uid": row.uid,
        "message_id": row.message_id,
        "status": row.status,
        "reason": row.reason,
        "complaint_id": row.complaint_id,
        "sender": row.sender,
        "subject": row.subject,
        "size": row.size,
        "detail": row.detail,
        "received_at": row.received_at.isoformat(),
    }


@router.get("/email/mailboxes", dependencies=[Needs(Permission.admin)])
def list_mailboxes(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    require(user, Permission.admin)
    rows = session.scalars(select(Mailbox).order_by(Mailbox.code))
    return [mailboxes.mailbox_out(r) for r in rows]


@router.post(
    "/email/mailboxes", dependencies=[NeedsW(Permission.admin)], status_code=status.HTTP_201_CREATED
)
def create_mailbox(
    body: MailboxIn, db: DatabaseDep, user: UserW, clock: ClockDep, settings: SettingsDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        row = mailboxes.save_mailbox(
            session, clock, settings, actor_for(user), body.model_dump(), None
        )
        session.commit()
        return mailboxes.mailbox_out(row)


@router.get("/email/mailboxes/{row_id}", dependencies=[Needs(Permission.admin)])
def get_mailbox(row_id: RowId, session: ReadSession, user: UserR) -> dict[str, Any]:
    require(user, Permission.admin)
    return mailboxes.mailbox_out(mailboxes.get_mailbox(session, row_id))


@router.patch("/email/mailboxes/{row_id}", dependencies=[NeedsW(Permission.admin)])
def update_mailbox(
    row_id: RowId,
    body: MailboxPatch,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        row = mailboxes.get_mailbox(session, row_id)
        fields = body.model_dump(exclude_unset=True)
        mailboxes.save_mailbox(session, clock, settings, actor_for(user), fields, row)
        session.commit()
        return mailboxes.mailbox_out(row)


@router.get("/email/messages", dependencies=[Needs(Permission.admin)])
def list_messages(
    session: ReadSession,
    user: UserR,
    mailbox: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: Status = None,
    before: Before = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """What came in, newest first (keyset on id); ``status=review`` is the review queue."""
    require(user, Permission.admin)
    stmt = select(InboundMessage)
    if mailbox is not None:
        stmt = stmt.where(InboundMessage.mailbox_id == mailbox)
    if status is not None:
        stmt = stmt.where(InboundMessage.status == status)
    if before is not None:
        stmt = stmt.where(InboundMessage.id < before)
    rows = list(session.scalars(stmt.order_by(InboundMessage.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [message_out(r) for r in rows],
        "next_before": rows[-1].id if more and rows else None,
    }
