"""JSON routes for complaints under /api/v1. Thin: parse, call a service, commit, answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.attachments import web as attachments_web
from kesu.complaints import group_commit, lifecycle, registration, service
from kesu.complaints.access import get_complaint_for_user, require
from kesu.complaints.models import Complaint
from kesu.complaints.queries import (
    ComplaintFilters,
    event_out,
    list_complaints,
    stage_names,
    timeline_of,
    to_out,
)
from kesu.complaints.schemas import (
    AssignIn,
    ComplaintCreate,
    ComplaintOut,
    ComplaintPage,
    ComplaintUpdate,
    EventOut,
    MergeIn,
    NoteIn,
    ReopenIn,
    TransitionIn,
)
from kesu.errors import InvalidInput
from kesu.privacy.service import audit_contact_read, masked_event, sees_contact
from kesu.taxonomy.enums import Severity
from kesu.web import public_url
from kesu.web.deps import (
    ClockDep,
    DatabaseDep,
    ReadSession,
    SettingsDep,
    UserR,
    UserW,
    actor_for,
)
from kesu.web.i18n import gettext as _
from kesu.web.params import ComplaintRef, QueryRef

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _out(
    session: Any, complaint: Complaint, settings: SettingsDep, clock: ClockDep, masked: bool = False
) -> dict[str, Any]:
    base = public_url.base_url(session)
    out = to_out(complaint, stage_names(session), base, clock.now(), masked)
    out["attachments"] = attachments_web.out_for(session, complaint.id)
    return out


def _change(
    db: DatabaseDep,
    user: User,
    ref: str,
    permission: Permission,
    settings: SettingsDep,
    clock: ClockDep,
    apply: Callable[[Session, Complaint], object],
) -> dict[str, Any]:
    """The shape of every write route: load what the user may change, apply one service call,
    commit, and answer with the complaint as it is now."""
    with db.session() as session:
        complaint = get_complaint_for_user(session, user, ref, permission)
        apply(session, complaint)
        session.commit()
        return _out(session, complaint, settings, clock, not sees_contact(user))


@router.post(
    "",
    dependencies=[NeedsW(Permission.complaint_create)],
    status_code=status.HTTP_201_CREATED,
    response_model=ComplaintOut,
)
def create_complaint(
    body: ComplaintCreate,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Registers a complaint. A retry with the same ``Idempotency-Key`` returns the same one."""
    require(user, Permission.complaint_read)
    prepared = registration.prepare(db, body)  # triage's text work, before the write lock
    scope = f"user:{user.id}"
    actor = actor_for(user)

    def register(session: Session) -> tuple[int, bool]:
        complaint, replayed = registration.create_complaint(
            session,
            clock,
            actor,
            body,
            idempotency_key,
            idempotency_scope=scope,
            prepared=prepared,
        )
        session.flush()
        return complaint.id, replayed

    clash: IntegrityError | None = None
    try:
        # Committed together with the other pending creates of this process (its own
        # savepoint); returns once the transaction holding our rows has committed.
        complaint_id, replayed = group_commit.submit(db, register)
    except IntegrityError as exc:
        if idempotency_key is None:
            raise
        clash, complaint_id, replayed = exc, 0, True
    # The answer is read outside the write transaction (no write lock held while rendering).
    with db.session(write=False) as session:
        if clash is None:
            complaint = session.get_one(Complaint, complaint_id)
        else:
            # A concurrent retry with the same Idempotency-Key committed first: replay it.
            key = idempotency_key or ""
            found = registration.replay_after_conflict(session, scope, key, body)
            if found is None:
                raise clash
            complaint = found
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        response.headers["Location"] = f"/api/v1/complaints/{complaint.id}"
        return _out(session, complaint, settings, clock, not sees_contact(user))


@router.get("", dependencies=[Needs(Permission.complaint_read)], response_model=ComplaintPage)
def list_(
    session: ReadSession,
    user: UserR,
    clock: ClockDep,
    settings: SettingsDep,
    stage: QueryRef = None,
    team: QueryRef = None,
    assignee: QueryRef = None,
    severity: Severity | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    overdue: bool | None = None,
    open: bool | None = None,
    channel: QueryRef = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    filters = ComplaintFilters(
        stage=stage,
        team=team,
        assignee=assignee,
        severity=severity.value if severity else None,
        q=q,
        overdue=overdue,
        open=open,
        channel=channel,
    )
    rows, next_cursor = list_complaints(session, user, filters, clock.now(), limit, cursor)
    stages = stage_names(session)
    now = clock.now()
    base = public_url.base_url(session)
    items = [to_out(c, stages, base, now, masked=True) for c in rows]
    files = attachments_web.out_for_many(session, [c.id for c in rows])
    for item in items:
        item["attachments"] = files.get(item["id"], [])
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{ref}", dependencies=[Needs(Permission.complaint_read)], response_model=ComplaintOut)
def get(
    ref: ComplaintRef,
    session: ReadSession,
    db: DatabaseDep,
    user: UserR,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The complaint; phone and email masked unless the role has ``contact.view`` (audited)."""
    complaint = get_complaint_for_user(session, user, ref)
    masked = not sees_contact(user)
    if not masked:
        audit_contact_read(db, clock, user, complaint)
    return _out(session, complaint, settings, clock, masked)


@router.patch(
    "/{ref}", dependencies=[NeedsW(Permission.complaint_handle)], response_model=ComplaintOut
)
def update(
    ref: ComplaintRef,
    body: ComplaintUpdate,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return _change(
        db,
        user,
        ref,
        Permission.complaint_handle,
        settings,
        clock,
        lambda session, c: service.update_complaint(session, clock, actor_for(user), c, body),
    )


@router.get(
    "/{ref}/events", dependencies=[Needs(Permission.complaint_read)], response_model=list[EventOut]
)
def events(
    ref: ComplaintRef, session: ReadSession, db: DatabaseDep, user: UserR, clock: ClockDep
) -> list[dict[str, Any]]:
    """The timeline; contact details in it masked unless the role has ``contact.view``."""
    complaint = get_complaint_for_user(session, user, ref)
    found = [event_out(e) for e in timeline_of(session, complaint)]
    if not sees_contact(user):
        return [masked_event(e) for e in found]
    audit_contact_read(db, clock, user, complaint)
    return found


@router.post(
    "/{ref}/transitions",
    dependencies=[NeedsW(Permission.complaint_handle)],
    response_model=ComplaintOut,
)
def transition(
    ref: ComplaintRef,
    body: TransitionIn,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Moves the complaint to stage ``to``; the current stage's required outputs go alongside."""
    return _change(
        db,
        user,
        ref,
        Permission.complaint_handle,
        settings,
        clock,
        lambda session, c: lifecycle.transition(
            session,
            clock,
            actor_for(user),
            c,
            body.to,
            body.version,
            body.all_outputs(),
            comment=body.comment,
            message=body.message,
        ),
    )


@router.post(
    "/{ref}/notes",
    dependencies=[NeedsW(Permission.complaint_handle)],
    status_code=status.HTTP_201_CREATED,
    response_model=ComplaintOut,
)
def add_note(
    ref: ComplaintRef,
    body: NoteIn,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return _change(
        db,
        user,
        ref,
        Permission.complaint_handle,
        settings,
        clock,
        lambda session, c: service.add_note(
            session, clock, actor_for(user), c, body.body, body.public, body.version
        ),
    )


@router.post(
    "/{ref}/assign", dependencies=[NeedsW(Permission.complaint_claim)], response_model=ComplaintOut
)
def assign(
    ref: ComplaintRef,
    body: AssignIn,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    def apply(session: Session, complaint: Complaint) -> None:
        service.assign(
            session,
            clock,
            actor_for(user),
            complaint,
            version=body.version,
            team=_team(session, body.team_id, body.team),
            assignee=_user(session, body.assignee_id, body.assignee),
            reason=body.reason,
        )

    return _change(db, user, ref, Permission.complaint_read, settings, clock, apply)


@router.post(
    "/{ref}/reopen", dependencies=[NeedsW(Permission.complaint_reopen)], response_model=ComplaintOut
)
def reopen(
    ref: ComplaintRef,
    body: ReopenIn,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return _change(
        db,
        user,
        ref,
        Permission.complaint_reopen,
        settings,
        clock,
        lambda session, c: lifecycle.reopen(
            session, clock, actor_for(user), c, body.reason, body.version
        ),
    )


@router.post(
    "/{ref}/merge", dependencies=[NeedsW(Permission.complaint_merge)], response_model=ComplaintOut
)
def merge(
    ref: ComplaintRef,
    body: MergeIn,
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Merges this complaint (a duplicate) into ``into``; returns the complaint kept."""
    with db.session() as session:
        duplicate = get_complaint_for_user(session, user, ref, Permission.complaint_merge)
        keep = get_complaint_for_user(session, user, body.into)
        service.merge(session, clock, actor_for(user), duplicate, keep, body.version, body.reason)
        session.commit()
        return _out(session, keep, settings, clock, not sees_contact(user))


def _team(session: Session, team_id: int | None, code: str | None) -> Team | None:
    if team_id is None and not code:
        return None
    team = (
        session.get(Team, team_id)
        if team_id is not None
        else session.scalar(select(Team).where(Team.code == code))
    )
    if team is None or not team.is_active:
        raise InvalidInput(
            _("没有这个团队：%(team)s") % {"team": team_id or code}, field="team", code="unknown"
        )
    return team


def _user(session: Session, user_id: int | None, username: str | None) -> User | None:
    if user_id is None and not username:
        return None
    user = (
        session.get(User, user_id)
        if user_id is not None
        else session.scalar(select(User).where(User.username == username))
    )
    if user is None:
        raise InvalidInput(
            _("没有这个用户：%(user)s") % {"user": user_id or username},
            field="assignee",
            code="unknown",
        )
    return user
