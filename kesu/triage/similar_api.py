"""``GET /api/v1/complaints/{ref}/similar``: resolved complaints like this one."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kesu.accounts.permissions import Needs
from kesu.accounts.roles import Permission
from kesu.complaints.access import get_complaint_for_user
from kesu.triage.similar import find_similar
from kesu.web.deps import ReadSession, UserR
from kesu.web.params import ComplaintRef

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])


class SimilarCaseOut(BaseModel):
    id: int
    number: str
    title: str
    category_path: str | None
    stage: str
    stage_name: str
    resolved_at: datetime | None
    score: float
    same_category: bool
    solution: str | None
    result: str | None
    # The payouts of the ledger in words ("退款 199.00 元（已支付）"), else the approval's summary.
    compensation: str | None


class SimilarCasesOut(BaseModel):
    items: list[SimilarCaseOut]


@router.get(
    "/{ref}/similar",
    dependencies=[Needs(Permission.complaint_read)],
    response_model=SimilarCasesOut,
)
def similar(
    ref: ComplaintRef, session: ReadSession, user: UserR, k: Annotated[int, Query(ge=1, le=20)] = 5
) -> dict[str, Any]:
    """Up to ``k`` resolved complaints most like this one (same category first), with their
    solution and result. Only complaints the caller may see, in the query and the answer."""
    complaint = get_complaint_for_user(session, user, ref)
    return {"items": [asdict(case) for case in find_similar(session, complaint, k, user)]}
