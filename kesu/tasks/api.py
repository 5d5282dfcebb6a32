"""JSON routes: a complaint's tasks, and incidents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import get_complaint_for_user, require
from kesu.errors import NotFound
from kesu.incidents.models import Incident
from kesu.incidents.service import incident_out
from kesu.tasks import service
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.params import ComplaintRef

router = APIRouter(prefix="/api/v1", tags=["tasks and incidents"])
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/complaints/{ref}/tasks", dependencies=[Needs(Permission.complaint_read)])
def tasks(ref: ComplaintRef, session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    complaint = get_complaint_for_user(session, user, ref)
    return [service.task_out(t) for t in service.tasks_of(session, complaint)]


@router.post(
    "/complaints/{ref}/tasks/{task_id}/done", dependencies=[NeedsW(Permission.complaint_handle)]
)
def task_done(
    ref: ComplaintRef, task_id: RowId, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        complaint = get_complaint_for_user(session, user, ref, Permission.complaint_handle)
        task = service.complete_task(session, clock, actor_for(user), task_id, complaint)
        session.commit()
        return service.task_out(task)


@router.get("/incidents", dependencies=[Needs(Permission.complaint_assign)])
def incidents(
    session: ReadSession,
    user: UserR,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
) -> list[dict[str, Any]]:
    require(user, Permission.complaint_assign)
    stmt = select(Incident).order_by(Incident.id.desc()).limit(200)
    if status:
        stmt = stmt.where(Incident.status == status)
    return [incident_out(session, i) for i in session.scalars(stmt)]


@router.get("/incidents/{incident_id}", dependencies=[Needs(Permission.complaint_assign)])
def incident(incident_id: RowId, session: ReadSession, user: UserR) -> dict[str, Any]:
    require(user, Permission.complaint_assign)
    found = session.get(Incident, incident_id)
    if found is None:
        raise NotFound(_("没有这个应急事件"), field="id")
    return incident_out(session, found)
