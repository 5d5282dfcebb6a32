"""Creating and closing tasks; each change is on the complaint's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import Team, User
from kesu.accounts.roles import ALL_DATA_ROLES, Role
from kesu.accounts.service import Actor
from kesu.bulk import insert_rows
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.models import Complaint
from kesu.errors import Conflict, NotFound
from kesu.tasks.models import Task
from kesu.web.i18n import gettext as _


def create_task(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    *,
    kind: str,
    title: str,
    team: Team | None,
    assignee: User | None = None,
    due_at: datetime | None = None,
    level: int = 0,
    body: str = "",
    record: bool = True,
) -> Task:
    """A task for ``team`` (a sub-task for another department, or an escalation)."""
    task = Task(
        kind=kind,
        title=title[:200],
        body=body,
        team_id=team.id if team else None,
        assignee_id=assignee.id if assignee else None,
        level=level,
        due_at=due_at,
        status="open",
        created_by=actor.label,
        created_at=clock.now(),
    )
    if complaint.id is None:
        session.flush()
    task.complaint_id = complaint.id
    session.add(task)
    if record:
        who = team.name if team else (assignee.label if assignee else "")
        timeline.record(
            session,
            clock,
            actor,
            complaint,
            "task_created",
            body=f"新建任务「{title}」" + (f"，协办：{who}" if who else ""),
            data={"kind": kind, "title": title, "team": team.code if team else None},
            audit={"task": title, "team": team.code if team else None},
        )
    return task


def task_row(
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    *,
    kind: str,
    title: str,
    team: Team | None,
    assignee: User | None,
    level: int,
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """A task as a row for ``insert_tasks`` (escalation tasks, written in bulk by the worker)."""
    return {
        "complaint_id": complaint.id,
        "kind": kind,
        "title": title[:200],
        "body": "",
        "team_id": team.id if team else None,
        "assignee_id": assignee.id if assignee else None,
        "level": level,
        "due_at": due_at,
        "status": "open",
        "created_by": actor.label,
        "created_at": clock.now(),
        "done_at": None,
        "done_by": "",
    }


def insert_tasks(session: Session, rows: list[dict[str, Any]]) -> None:
    insert_rows(session, cast(Table, Task.__table__), rows)


def complete_task(
    session: Session, clock: Clock, actor: Actor, task_id: int, complaint: Complaint
) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.complaint_id != complaint.id:
        raise NotFound(_("没有这个任务"), field="task_id")
    if task.status == "done":
        raise Conflict(_("任务已完成"), code="task_done")
    task.status = "done"
    task.done_at = clock.now()
    task.done_by = actor.label
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        "task_done",
        body=f"任务「{task.title}」已完成",
        data={"task": task.id, "title": task.title},
        audit={"task": task.id, "status": "done"},
    )
    return task


def claim_task(session: Session, clock: Clock, actor: Actor, task: Task, user: User) -> Task:
    """``user`` takes an open task of their team's queue (audited; the complaint is unchanged)."""
    if task.status != "open":
        raise Conflict(_("任务已完成"), code="task_done")
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise Conflict(_("任务已有人负责"), code="task_claimed")
    task.assignee_id = user.id
    record_audit(
        session, clock, actor, "task.claimed", "task", str(task.id), {"user": user.username}
    )
    return task


def may_work_on(user: User, task: Task) -> bool:
    """A task is for its team's members, its assignee, and roles that see every complaint."""
    return (
        Role(user.role) in ALL_DATA_ROLES
        or task.assignee_id == user.id
        or (task.team_id is not None and task.team_id == user.team_id)
    )


SCOPES = ("team", "mine", "all")


def queue(
    session: Session, user: User, scope: str, status: str | None, limit: int = 200
) -> list[tuple[Task, Complaint]]:
    """A task queue with each task's complaint: ``team`` (the user's team and their own),
    ``mine`` (assigned to the user) or ``all`` (roles that see every complaint); open first,
    earliest deadline first."""
    stmt = select(Task, Complaint).join(Complaint, Complaint.id == Task.complaint_id)
    if scope == "mine":
        stmt = stmt.where(Task.assignee_id == user.id)
    elif scope == "team" or Role(user.role) not in ALL_DATA_ROLES:
        mine = Task.assignee_id == user.id
        stmt = stmt.where(or_(mine, Task.team_id == user.team_id) if user.team_id else mine)
    if status:
        stmt = stmt.where(Task.status == status)
    stmt = stmt.order_by(Task.status.desc(), Task.due_at.is_(None), Task.due_at, Task.id.desc())
    return [(row[0], row[1]) for row in session.execute(stmt.limit(limit))]


def tasks_of(session: Session, complaint: Complaint) -> list[Task]:
    return list(
        session.scalars(select(Task).where(Task.complaint_id == complaint.id).order_by(Task.id))
    )


def task_out(task: Task) -> dict[str, object]:
    return {
        "id": task.id,
        "complaint_id": task.complaint_id,
        "kind": task.kind,
        "title": task.title,
        "body": task.body,
        "team_id": task.team_id,
        "assignee_id": task.assignee_id,
        "level": task.level,
        "due_at": task.due_at,
        "status": task.status,
        "created_by": task.created_by,
        "created_at": task.created_at,
        "done_at": task.done_at,
        "done_by": task.done_by,
    }
