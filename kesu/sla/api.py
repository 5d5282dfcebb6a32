"""JSON routes: SLA policies and calendars (admins), and a complaint's clocks (its readers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import get_complaint_for_user, require
from kesu.complaints.models import Complaint
from kesu.sla import admin, config
from kesu.sla.escalation import level_of
from kesu.sla.milestones import label
from kesu.sla.models import SlaCalendar, SlaPolicy
from kesu.sla.service import OPEN_STATES, derive, remaining
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, actor_for
from kesu.web.params import ComplaintRef

router = APIRouter(prefix="/api/v1", tags=["sla"])
PolicyId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PolicyIn(_Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    name_en: str = Field(default="", max_length=128)
    description: str = Field(default="", max_length=2000)
    position: int = Field(default=100, ge=0, le=1_000_000)
    is_active: bool = True
    conditions: dict[str, Any] = Field(default_factory=dict)
    targets: dict[str, Any]
    calendar_code: str = Field(default="standard", max_length=64)
    notify_calendar_code: str = Field(default="standard", max_length=64)
    warn_percent: int = Field(default=80, ge=1, le=99)
    level_percents: list[Annotated[int, Field(ge=101, le=1000)]] = Field(
        default_factory=lambda: [150, 200], max_length=2
    )
    stage_limits: bool = False


class PolicyPatch(_Strict):
    version: int = Field(ge=0, le=2**31 - 1)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    name_en: str | None = Field(default=None, max_length=128)
    description: str | None = Field(default=None, max_length=2000)
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    is_active: bool | None = None
    conditions: dict[str, Any] | None = None
    targets: dict[str, Any] | None = None
    calendar_code: str | None = Field(default=None, max_length=64)
    notify_calendar_code: str | None = Field(default=None, max_length=64)
    warn_percent: int | None = Field(default=None, ge=1, le=99)
    level_percents: list[Annotated[int, Field(ge=101, le=1000)]] | None = Field(
        default=None, max_length=2
    )
    stage_limits: bool | None = None


class CalendarIn(_Strict):
    name: str = Field(default="", max_length=128)
    config: dict[str, Any]


@router.get("/sla/policies", dependencies=[Needs(Permission.admin)])
def list_policies(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    require(user, Permission.admin)
    rows = session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))
    return [admin.policy_out(p) for p in rows]


@router.post(
    "/sla/policies", dependencies=[NeedsW(Permission.admin)], status_code=status.HTTP_201_CREATED
)
def create_policy(body: PolicyIn, db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        policy = admin.create_policy(session, clock, actor_for(user), body.model_dump())
        session.commit()
        return admin.policy_out(policy)


@router.get("/sla/policies/{policy_id}", dependencies=[Needs(Permission.admin)])
def get_policy(policy_id: PolicyId, session: ReadSession, user: UserR) -> dict[str, Any]:
    require(user, Permission.admin)
    return admin.policy_out(admin.get_policy(session, policy_id))


@router.patch("/sla/policies/{policy_id}", dependencies=[NeedsW(Permission.admin)])
def update_policy(
    policy_id: PolicyId, body: PolicyPatch, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Edits a policy. Running clocks on it take the new targets within a worker pass;
    disabling it moves its complaints to the next policy that matches."""
    with db.session() as session:
        require(user, Permission.admin)
        policy = admin.get_policy(session, policy_id)
        fields = body.model_dump(exclude_unset=True, exclude={"version"})
        fields = {k: v for k, v in fields.items() if v is not None}
        admin.update_policy(session, clock, actor_for(user), policy, body.version, fields)
        session.commit()
        return admin.policy_out(policy)


@router.get("/sla/calendars", dependencies=[Needs(Permission.admin)])
def list_calendars(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    require(user, Permission.admin)
    return [
        admin.calendar_out(c)
        for c in session.scalars(select(SlaCalendar).order_by(SlaCalendar.code))
    ]


@router.put("/sla/calendars/{code}", dependencies=[NeedsW(Permission.admin)])
def put_calendar(
    code: Annotated[str, Path(max_length=64)],
    body: CalendarIn,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        row = admin.put_calendar(session, clock, actor_for(user), code, body.name, body.config)
        session.commit()
        return admin.calendar_out(row)


@router.get("/complaints/{ref}/sla", dependencies=[Needs(Permission.complaint_read)])
def complaint_sla(
    ref: ComplaintRef, session: ReadSession, user: UserR, clock: ClockDep
) -> dict[str, Any]:
    """The complaint's clocks: what runs, what is paused, met or breached, and its level."""
    complaint = get_complaint_for_user(session, user, ref)
    return sla_view(session, complaint, clock.now())


def sla_view(session: Session, complaint: Complaint, now: Any) -> dict[str, Any]:
    rows = derive(session, complaint, now)  # the stored clocks and the latent ones
    policies = {p.id: p for p in session.scalars(select(SlaPolicy))}
    clocks = []
    for row in rows:
        running = row.status in OPEN_STATES
        left = remaining(row, config.calendar(session, row.calendar_code), now) if running else None
        policy = policies.get(row.policy_id or -1)
        clocks.append(
            {
                "milestone": row.milestone,
                "name": label(row.milestone),
                "name_en": label(row.milestone, "en"),
                "cycle": row.cycle,
                "policy": policy.code if policy else None,
                "status": row.status,
                "started_at": row.started_at,
                "target_minutes": row.target_minutes,
                "due_at": row.due_at,
                "met_at": row.met_at,
                "breached": row.breached,
                "remaining_seconds": int(left.total_seconds()) if left is not None else None,
                "alerts_sent": row.notified,
            }
        )
    return {
        "complaint": complaint.number,
        "due_at": complaint.due_at,
        "overdue": bool(complaint.is_open and complaint.due_at and complaint.due_at < now),
        "escalation_level": level_of(session, complaint),
        "clocks": clocks,
    }
