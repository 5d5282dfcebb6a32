"""The task queue page: a department's sub-tasks and escalation tasks, claim and complete."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.models import User
from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import ALL_DATA_ROLES, Permission, Role, can
from kesu.complaints.models import Complaint
from kesu.errors import KesuError, NotFound
from kesu.sla.escalation import LEVEL_NAMES
from kesu.tasks import service
from kesu.tasks.models import Task
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import N_, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.templating import flash, redirect, render

Reader = Annotated[User, PageNeeds(Permission.complaint_read)]
Writer = Annotated[User, PageNeedsW(Permission.complaint_handle)]


def label_of(table: dict[str, str], code: str) -> str:
    """A stored code in words, in the reader's language."""
    return _(table[code]) if code in table else code


router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]
STATUS_LABELS = {"open": N_("待处理"), "done": N_("已完成")}
KIND_LABELS = {"subtask": N_("协办"), "escalation": N_("升级")}
SCOPE_LABELS = {"team": N_("我的团队"), "mine": N_("我的"), "all": N_("全部")}


@router.get("/tasks")
def tasks_page(
    request: Request,
    session: ReadSession,
    clock: ClockDep,
    user: Reader,
    scope: Annotated[str | None, Query(pattern="^(team|mine|all)$")] = None,
    status: Annotated[str, Query(pattern="^(open|done|any)$")] = "open",
) -> Response:
    sees_all = Role(user.role) in ALL_DATA_ROLES
    chosen = scope or ("team" if user.team_id else ("all" if sees_all else "mine"))
    rows = service.queue(session, user, chosen, None if status == "any" else status)
    scopes = [s for s in service.SCOPES if s != "all" or sees_all]
    ids = {t.assignee_id for t, _c in rows if t.assignee_id}
    owners = {u.id: u.label for u in session.scalars(select(User).where(User.id.in_(ids)))}
    return render(
        request,
        "tasks/tasks.html",
        {
            "rows": rows,
            "owners": owners,
            "scope": chosen,
            "scopes": scopes,
            "status": status,
            "now": clock.now(),
            "can_handle": can(user.role, Permission.complaint_handle),
            "may_work_on": lambda task: service.may_work_on(user, task),
            "status_label": partial(label_of, STATUS_LABELS),
            "kind_label": partial(label_of, KIND_LABELS),
            "scope_label": partial(label_of, SCOPE_LABELS),
            "level_label": lambda level: _(LEVEL_NAMES[level]) if level in LEVEL_NAMES else "",
        },
    )


def _task_for(session: Session, user: User, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None or not service.may_work_on(user, task):
        raise NotFound(_("没有这个任务"), field="task_id")
    return task


@router.post("/tasks/{task_id}/claim")
def claim(
    request: Request,
    task_id: TaskId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: Writer,
) -> Response:
    task = _task_for(session, user, task_id)
    try:
        service.claim_task(session, clock, actor_for(user), task, user)
        session.commit()
        flash(request, _("已领取任务「%(title)s」") % {"title": task.title})
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return redirect(_back(form))


@router.post("/tasks/{task_id}/done")
def done(
    request: Request,
    task_id: TaskId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: Writer,
) -> Response:
    task = _task_for(session, user, task_id)
    try:
        complaint = session.get(Complaint, task.complaint_id)
        assert complaint is not None  # tasks are deleted with their complaint
        service.complete_task(session, clock, actor_for(user), task.id, complaint)
        session.commit()
        flash(request, _("任务「%(title)s」已完成") % {"title": task.title})
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return redirect(_back(form))


def _back(form: FormData) -> str:
    """Back to the queue as it was filtered (only /tasks… addresses)."""
    raw = text(form, "back", 200)
    return raw if raw.startswith("/tasks") and "//" not in raw else "/tasks"
