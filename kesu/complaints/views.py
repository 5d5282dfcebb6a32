"""The agent's pages: the workbench (queues) and the complaint page with its actions.

Views are thin: parse the form, call ``service`` / ``lifecycle``, commit, redirect. A domain
error is shown on the complaint page above the form that caused it, with what was typed kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import FormData

from kesu.accounts.models import Team, User
from kesu.accounts.roles import ALL_DATA_ROLES, Permission, Role, can
from kesu.accounts.views import PageUserR, PageUserW
from kesu.clock import Clock
from kesu.complaints import lifecycle, service
from kesu.complaints.access import get_complaint_for_user, lookup
from kesu.complaints.enums import Channel, StageCategory
from kesu.complaints.models import Complaint
from kesu.complaints.queries import ComplaintFilters, list_complaints, mask_phone, timeline_of
from kesu.complaints.schemas import ComplaintUpdate
from kesu.errors import InvalidInput, KesuError, StaleVersion
from kesu.taxonomy.enums import Severity
from kesu.taxonomy.service import active_form_fields, active_stages, category_tree
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
PAGE_SIZE = 50
TABS = ("mine", "team", "all")


# ---- the workbench -------------------------------------------------------------------------

def _queue_owner(user: User) -> User:
    """团队队列 is exactly what an agent of the user's team sees: the team's complaints, the
    unassigned pool and their own. ``scope_filter`` only reads id, role and team, so a
    transient stand-in with the agent role gives that scope to managers too (never saved)."""
    return User(id=user.id, role=Role.agent.value, team_id=user.team_id)


@router.get("/")
def workbench(request: Request, session: ReadSession, user: PageUserR, clock: ClockDep,
              tab: str = "mine", stage: str = "", severity: str = "", channel: str = "",
              overdue: str = "", q: str = "", unassigned: str = "", status: str = "open",
              cursor: str = "") -> Response:
    sees_all = Role(user.role) in ALL_DATA_ROLES
    if tab not in TABS or (tab == "all" and not sees_all):
        tab = "mine"
    filters = ComplaintFilters(
        stage=stage or None, severity=severity if severity in Severity.__members__ else None,
        channel=channel if channel in Channel.__members__ else None,
        overdue=True if overdue else None, q=q.strip()[:200] or None,
        assignee="none" if unassigned else None,
        open={"open": True, "closed": False}.get(status) if tab == "all" else True)
    owner = user
    if tab == "mine":
        filters.assignee = "me"
    elif tab == "team":
        owner = _queue_owner(user)
    error = None
    try:
        rows, next_cursor = list_complaints(session, owner, filters, clock.now(), PAGE_SIZE,
                                            cursor[:400] or None)
    except KesuError as exc:
        rows, next_cursor, error = [], None, exc
    params = {"tab": tab, "stage": stage, "severity": severity, "channel": channel,
              "overdue": overdue, "q": q, "unassigned": unassigned, "status": status}
    return render(request, "complaints/workbench.html", {
        "rows": rows, "next_cursor": next_cursor, "tab": tab, "sees_all": sees_all,
        "params": params, "first_page": not cursor, "error": error, "now": clock.now(),
        "stages": {s.code: s for s in active_stages(session)}, "mask_phone": mask_phone,
        "channels": list(Channel)})


# ---- the complaint page ------------------------------------------------------------------

@dataclass
class FormState:
    """Which form failed, why, and what was typed in it (to show it again)."""

    name: str = ""
    error: KesuError | None = None
    values: dict[str, str] | None = None


def _page(request: Request, session: Session, clock: Clock, user: User, complaint: Complaint,
          state: FormState | None = None, status_code: int = 200) -> Response:
    stages = active_stages(session)
    by_code = {s.code: s for s in stages}
    current = by_code.get(complaint.stage)
    may_handle = can(user.role, Permission.complaint_handle)
    acts = bool(current and may_handle and user.role in current.allowed_roles
                and complaint.merged_into_id is None)
    category = StageCategory(current.category) if current else StageCategory.closed
    output_specs = [spec for s in stages for spec in s.required_outputs]
    users = list(session.scalars(select(User).where(User.is_active).order_by(User.username)))
    merged_into = session.get(Complaint, complaint.merged_into_id) \
        if complaint.merged_into_id else None
    repeat_of = session.get(Complaint, complaint.repeat_of_id) if complaint.repeat_of_id else None
    return render(request, "complaints/detail.html", {
        "c": complaint, "stage": current, "stages": by_code, "now": clock.now(),
        "targets": lifecycle.allowed_targets(stages, current) if acts and current else [],
        "output_specs": output_specs, "events": timeline_of(session, complaint),
        "fields": {f.code: f for f in active_form_fields(session)},
        "teams": list(session.scalars(select(Team).where(Team.is_active).order_by(Team.id))),
        "users": users, "categories": category_tree(session),
        "may_handle": may_handle and complaint.merged_into_id is None,
        "may_assign": can(user.role, Permission.complaint_assign),
        "may_claim": complaint.assignee_id is None and complaint.is_open
        and can(user.role, Permission.complaint_claim),
        "may_reopen": category in (StageCategory.resolved, StageCategory.closed)
        and complaint.merged_into_id is None and can(user.role, Permission.complaint_reopen),
        "may_merge": complaint.merged_into_id is None and complaint.is_open
        and can(user.role, Permission.complaint_merge),
        "merged_into": merged_into, "repeat_of": repeat_of,
        "state": state or FormState(),
    }, status_code)


@router.get("/complaints/{ref}")
def complaint_page(request: Request, ref: str, session: ReadSession, user: PageUserR,
                   clock: ClockDep) -> Response:
    complaint = get_complaint_for_user(session, user, ref)
    return _page(request, session, clock, user, complaint)


def _version(form: FormData) -> int:
    value = text(form, "version")
    if not value.isdigit():
        raise InvalidInput(_("缺少版本号，请刷新页面后重试"), field="version")
    return int(value)


def _act(request: Request, session: Session, clock: Clock, user: User, ref: str,
         form: FormData, form_name: str, permission: Permission,
         action: Callable[[Complaint], str]) -> Response:
    """Runs ``action`` on the complaint and commits; on a domain error shows the page again
    (status 4xx) with the error above the form ``form_name`` and its values kept."""
    complaint = get_complaint_for_user(session, user, ref, permission)
    try:
        done = action(complaint)
        session.commit()
    except (KesuError, StaleDataError) as exc:
        session.rollback()
        error = exc if isinstance(exc, KesuError) else StaleVersion(
            _("投诉已被他人修改，请查看最新内容后重试"), field="version")
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        fresh = get_complaint_for_user(session, user, ref)
        return _page(request, session, clock, user, fresh, FormState(form_name, error, values),
                     error.status_code)
    flash(request, done)
    return redirect(f"/complaints/{complaint.number}")


@router.post("/complaints/{ref}/transition")
def transition(request: Request, ref: str, form: CheckedForm, session: WriteSession,
               user: PageUserW, clock: ClockDep) -> Response:
    to = text(form, "to")
    prefix = "out_"
    outputs = {k[len(prefix):]: v.strip() for k, v in form.items()
               if k.startswith(prefix) and isinstance(v, str) and v.strip()}

    def move(c: Complaint) -> str:
        target = lifecycle.transition(session, clock, actor_for(user), c, to, _version(form),
                                      outputs, comment=text(form, "comment") or None,
                                      message=text(form, "message") or None)
        return _("已转到「%(stage)s」") % {"stage": target.name}

    return _act(request, session, clock, user, ref, form, f"transition-{to}",
                Permission.complaint_handle, move)


@router.post("/complaints/{ref}/note")
def add_note(request: Request, ref: str, form: CheckedForm, session: WriteSession,
             user: PageUserW, clock: ClockDep) -> Response:
    public = text(form, "public") == "1"

    def note(c: Complaint) -> str:
        body = text(form, "body")
        if not body:
            raise InvalidInput(_("请填写内容"), field="body")
        if len(body) > 20000:
            raise InvalidInput(_("内容太长（最多 20000 字）"), field="body")
        service.add_note(session, clock, actor_for(user), c, body, public, _version(form))
        return _("已发送给客户") if public else _("已添加内部备注")

    return _act(request, session, clock, user, ref, form, "note",
                Permission.complaint_handle, note)


def _pick(session: Session, model: type[Team] | type[User], value: str) -> Any:
    if not value:
        return None
    found = session.get(model, int(value)) if value.isdigit() else None
    if found is None:
        raise InvalidInput(_("选择无效，请重新选择"), field=model.__tablename__)
    return found


@router.post("/complaints/{ref}/assign")
def assign(request: Request, ref: str, form: CheckedForm, session: WriteSession,
           user: PageUserW, clock: ClockDep) -> Response:
    def give(c: Complaint) -> str:
        service.assign(session, clock, actor_for(user), c, version=_version(form),
                       team=_pick(session, Team, text(form, "team_id")),
                       assignee=_pick(session, User, text(form, "assignee_id")),
                       reason=text(form, "reason") or None)
        return _("已分配")

    return _act(request, session, clock, user, ref, form, "assign",
                Permission.complaint_read, give)


@router.post("/complaints/{ref}/claim")
def claim(request: Request, ref: str, form: CheckedForm, session: WriteSession,
          user: PageUserW, clock: ClockDep) -> Response:
    def take(c: Complaint) -> str:
        service.assign(session, clock, actor_for(user), c, version=_version(form), team=None,
                       assignee=user, reason=None)
        return _("已领取，现在由您处理")

    return _act(request, session, clock, user, ref, form, "claim",
                Permission.complaint_claim, take)


@router.post("/complaints/{ref}/reopen")
def reopen(request: Request, ref: str, form: CheckedForm, session: WriteSession,
           user: PageUserW, clock: ClockDep) -> Response:
    def again(c: Complaint) -> str:
        reason = text(form, "reason")
        if not reason:
            raise InvalidInput(_("请填写重新打开的原因"), field="reason")
        lifecycle.reopen(session, clock, actor_for(user), c, reason, _version(form))
        return _("已重新打开（二次处理）")

    return _act(request, session, clock, user, ref, form, "reopen",
                Permission.complaint_reopen, again)


@router.post("/complaints/{ref}/merge")
def merge(request: Request, ref: str, form: CheckedForm, session: WriteSession,
          user: PageUserW, clock: ClockDep) -> Response:
    def into(c: Complaint) -> str:
        number = text(form, "into")
        keep = lookup(session, number) if number else None
        if keep is None:
            raise InvalidInput(_("没有这个投诉编号：%(n)s") % {"n": number}, field="into")
        keep = get_complaint_for_user(session, user, keep.id)
        service.merge(session, clock, actor_for(user), c, keep, _version(form),
                      text(form, "reason") or None)
        return _("已合并到 %(n)s") % {"n": keep.number}

    return _act(request, session, clock, user, ref, form, "merge",
                Permission.complaint_merge, into)


@router.post("/complaints/{ref}/update")
def update(request: Request, ref: str, form: CheckedForm, session: WriteSession,
           user: PageUserW, clock: ClockDep) -> Response:
    def edit(c: Complaint) -> str:
        wanted: dict[str, Any] = {"version": _version(form)}
        category, severity, priority = (text(form, k) for k in ("category", "severity",
                                                                   "priority"))
        if category and category != str(c.category_id or ""):
            wanted["category"] = category
        if severity and severity != c.severity:
            wanted["severity"] = severity
        if priority and priority != str(c.priority):
            wanted["priority"] = priority
        if text(form, "reason"):
            wanted["reason"] = text(form, "reason")
        try:
            data = ComplaintUpdate.model_validate(wanted)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidInput(_("输入无效：%(f)s") % {"f": first["loc"][0]},
                               field=str(first["loc"][0])) from None
        service.update_complaint(session, clock, actor_for(user), c, data)
        return _("已保存")

    return _act(request, session, clock, user, ref, form, "update",
                Permission.complaint_handle, edit)
