"""``POST /api/v1/complaints/bulk``: one action on up to 200 complaints, in one transaction."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kesu.accounts.models import User
from kesu.accounts.permissions import NeedsW, Permission
from kesu.complaints import bulk
from kesu.web.deps import ClockDep, DatabaseDep, actor_for

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        min_length=1, max_length=bulk.MAX_IDS
    )
    action: Literal["assign", "category", "severity", "tag"]
    value: Any = Field(
        description='assign: {"team_id", "assignee_id", "reason"}; category: id or path; '
        "severity: minor|moderate|serious|critical; tag: text (≤ 32)"
    )


class SkippedOut(BaseModel):
    id: int
    number: str | None
    reason: str = Field(description="not_found | forbidden | merged | stale | invalid")
    message: str


class BulkOut(BaseModel):
    updated: list[int]
    skipped: list[SkippedOut]


@router.post("/bulk", dependencies=[NeedsW(Permission.complaint_handle)], response_model=BulkOut)
def bulk_action(
    body: BulkIn,
    db: DatabaseDep,
    user: Annotated[User, NeedsW(Permission.complaint_handle)],
    clock: ClockDep,
) -> dict[str, Any]:
    """Applies the action to each complaint through the ordinary services (each with its own
    timeline event and audit row). Complaints outside the caller's scope, or refused by the
    service, are skipped and listed with a reason; the others are changed."""
    ids = bulk.parse_ids(list(body.ids))
    bulk.check_action(user, body.action)
    with db.session() as session:
        value = bulk.resolve_value(session, body.action, body.value)
        me = session.get(User, user.id) or user
        result = bulk.apply(session, clock, actor_for(me), me, ids, body.action, value)
        session.commit()
        return {
            "updated": [c.id for c in result.updated],
            "skipped": [
                {"id": s.id, "number": s.number, "reason": s.reason, "message": s.message}
                for s in result.skipped
            ],
        }
