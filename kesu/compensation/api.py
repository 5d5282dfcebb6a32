"""JSON routes: compensation requests, decisions, the approval thresholds.

Amounts are decimal strings in and out ("199.00"); a JSON number that is not an integer is
refused (floats are not exact)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.compensation import approvals, service
from kesu.compensation.models import CompensationRequest
from kesu.complaints.access import get_complaint_for_user
from kesu.complaints.models import Complaint
from kesu.errors import NotFound
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW
from kesu.web.i18n import gettext as _
from kesu.web.params import ID_MAX, ComplaintRef, Id

router = APIRouter(tags=["compensation"])


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    method: str = Field(min_length=1, max_length=32)
    amount: StrictStr | StrictInt = Field(
        description='A decimal string of at most 2 decimals, e.g. "199.00"'
    )
    reason: str | None = Field(default=None, max_length=service.MAX_REASON)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    decision: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=service.MAX_REASON)
    version: int | None = Field(default=None, ge=1, le=ID_MAX)


class ApprovalOut(BaseModel):
    step: int
    role: str
    role_label: str
    team: str | None  # the department (team code) whose lead decides, if any
    decision: str  # pending | approved | rejected | skipped
    reason: str
    decided_at: Any
    approver_id: int | None


class RequestOut(BaseModel):
    id: int
    complaint_id: int
    complaint: str  # the number
    status: str
    method: str
    method_label: str
    amount: str
    currency: str
    reason: str
    deviation: bool
    chain: str  # fast | chain | joint
    tier: str
    rule: dict[str, Any] | None
    standard_version: int | None
    recommended: dict[str, Any] | None
    requested_by: int | None
    created_at: Any
    decided_at: Any
    version: int
    approvals: list[ApprovalOut]


class TierIO(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32)
    kind: Literal["fast", "chain", "joint"]
    max_amount: StrictStr | StrictInt | None = None
    roles: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=10)
    departments: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=10
    )


class TiersIO(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tiers: list[TierIO] = Field(min_length=1, max_length=approvals.MAX_TIERS)
    default: bool = False  # (out) the data file's defaults are in force


def as_dict(session: Session, req: CompensationRequest) -> dict[str, Any]:
    complaint = session.get(Complaint, req.complaint_id)
    codes = {t.id: t.code for t in session.scalars(select(Team))}
    return {
        "id": req.id,
        "complaint_id": req.complaint_id,
        "complaint": complaint.number if complaint is not None else "",
        "status": req.status,
        "method": req.method,
        "method_label": service.method_label(req.method),
        "amount": service.money(req.amount),
        "currency": req.currency,
        "reason": req.reason,
        "deviation": req.deviation,
        "chain": req.chain,
        "tier": req.tier,
        "rule": {"id": req.rule_id, "name": req.rule_name} if req.rule_id else None,
        "standard_version": req.standard_version,
        "recommended": (
            {
                "method": req.recommended_method,
                "amount": service.money(req.recommended_amount),
            }
            if req.recommended_method and req.recommended_amount is not None
            else None
        ),
        "requested_by": req.requested_by,
        "created_at": req.created_at,
        "decided_at": req.decided_at,
        "version": req.version,
        "approvals": [
            {
                "step": a.step,
                "role": a.role,
                "role_label": approvals.role_label(a.role),
                "team": codes.get(a.team_id) if a.team_id else None,
                "decision": a.decision,
                "reason": a.reason,
                "decided_at": a.decided_at,
                "approver_id": a.approver_id,
            }
            for a in service.steps_of(session, req)
        ],
    }


def _visible(session: Session, user: User, req: CompensationRequest) -> None:
    """A request is seen by those who see its complaint, and by its step's approvers."""
    complaint = session.get(Complaint, req.complaint_id)
    if complaint is None:
        raise NotFound(_("没有这个赔付申请：%(id)s") % {"id": req.id}, field="id")
    try:
        get_complaint_for_user(session, user, complaint.id)
    except NotFound:
        if not any(approvals.may_decide(user, a) for a in service.steps_of(session, req)):
            raise NotFound(_("没有这个赔付申请：%(id)s") % {"id": req.id}, field="id") from None


@router.post(
    "/api/v1/complaints/{ref}/compensation",
    dependencies=[NeedsW(Permission.compensation_request)],
    status_code=status.HTTP_201_CREATED,
    response_model=RequestOut,
)
def create_request(
    ref: ComplaintRef, body: RequestIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Requests compensation on a complaint. Deviating from the recommendation (another
    method, more than its amount or cap, or no rule at all) needs a ``reason`` (422). One
    open request per complaint (409). Below the fast-claim threshold the request is approved
    at once by rule; otherwise it waits for its approval chain."""
    with db.session() as session:
        complaint = get_complaint_for_user(session, user, ref, Permission.compensation_request)
        req = service.request(
            session, clock, Actor.of(user), complaint, body.method, body.amount, body.reason
        )
        session.flush()
        return as_dict(session, req)


@router.get(
    "/api/v1/complaints/{ref}/compensation",
    dependencies=[Needs(Permission.complaint_read)],
    response_model=list[RequestOut],
)
def complaint_requests(ref: ComplaintRef, session: ReadSession, user: UserR) -> list[Any]:
    """The complaint's compensation requests, newest first, with their approval steps."""
    complaint = get_complaint_for_user(session, user, ref)
    return [as_dict(session, r) for r in service.of_complaint(session, complaint)]


@router.get(
    "/api/v1/compensation/requests",
    dependencies=[Needs(Permission.signed_in)],
    response_model=list[RequestOut],
)
def list_requests(
    session: ReadSession,
    user: UserR,
    status_: Annotated[
        Literal["pending", "approved", "rejected", "paid", "cancelled"] | None,
        Query(alias="status"),
    ] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
) -> list[Any]:
    """``mine=true``: the requests the caller made. Otherwise: for readers of the ledger,
    every request; for approvers, the pending requests whose current step they may decide
    (their queue). Newest first; ``before`` (an id) pages."""
    if not mine and not (
        can(user.role, Permission.compensation_approve)
        or can(user.role, Permission.compensation_ledger)
    ):
        return []
    rows = service.listing(session, user, status=status_, mine=mine, limit=limit, before=before)
    return [as_dict(session, r) for r in rows]


@router.get(
    "/api/v1/compensation/requests/{request_id}",
    dependencies=[Needs(Permission.complaint_read)],
    response_model=RequestOut,
)
def get_request(request_id: Id, session: ReadSession, user: UserR) -> dict[str, Any]:
    req = session.get(CompensationRequest, request_id)
    if req is None:
        raise NotFound(_("没有这个赔付申请：%(id)s") % {"id": request_id}, field="id")
    _visible(session, user, req)
    return as_dict(session, req)


@router.post(
    "/api/v1/compensation/requests/{request_id}/decision",
    dependencies=[NeedsW(Permission.compensation_approve)],
    response_model=RequestOut,
)
def decide(
    request_id: Id, body: DecisionIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Approves or rejects the current step (the caller must hold its role; a team's step,
    that team's lead). Rejection needs a ``reason``; one's own request is a 403; a decided
    request, or a ``version`` that is not the current one, a 409. The last approval writes
    the payout to the ledger."""
    with db.session() as session:
        req = service.decide(
            session, clock, user, request_id, body.decision, body.reason, body.version
        )
        session.flush()
        return as_dict(session, req)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(default="", max_length=service.MAX_REASON)


@router.post(
    "/api/v1/compensation/requests/{request_id}/cancel",
    dependencies=[NeedsW(Permission.compensation_request)],
    response_model=RequestOut,
)
def cancel(
    request_id: Id, body: CancelIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Withdraws a pending request (its requester, or a lead or manager who sees the
    complaint); a decided request is a 409. Then a new request may be made."""
    with db.session() as session:
        req = service.cancel(session, clock, user, request_id, body.reason)
        session.flush()
        return as_dict(session, req)


@router.get(
    "/api/v1/compensation/approvals",
    dependencies=[Needs(Permission.signed_in)],
    response_model=TiersIO,
)
def get_tiers(session: ReadSession, user: UserR) -> dict[str, Any]:
    """The approval thresholds in force (CNY, inclusive maxima; the last tier has none)."""
    return {
        "tiers": [t.as_dict() for t in approvals.tiers(session)],
        "default": approvals.is_default(session),
    }


@router.put(
    "/api/v1/compensation/approvals",
    dependencies=[NeedsW(Permission.admin)],
    response_model=TiersIO,
)
def put_tiers(body: TiersIO, db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    """Replaces the approval thresholds (admin). Requests already made keep their steps."""
    with db.session() as session:
        tiers = approvals.parse_tiers(session, [t.model_dump() for t in body.tiers])
        approvals.save(session, clock, Actor.of(user), tiers)
        session.flush()
        return {"tiers": [t.as_dict() for t in tiers], "default": False}
