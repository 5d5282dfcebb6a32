"""The agent's pages: the workbench (queues) and the complaint page with its actions.

Views are thin: parse the form, call ``service`` / ``lifecycle``, commit, redirect. A domain
error is shown on the complaint page above the form that caused it, with what was typed kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import FormData

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import ALL_DATA_ROLES, Permission, Role, can
from kesu.accounts.service import Actor
from kesu.accounts.views import PageUserR, PageUserW
from kesu.attachments import pages as attachment_pages
from kesu.clock import Clock
from kesu.compensation import views as compensation_pages
from kesu.compensation.standards_views import card as compensation_card
from kesu.complaints import lifecycle, service
from kesu.complaints.access import get_complaint_for_user
from kesu.complaints.enums import Channel, StageCategory
from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.complaints.queries import ComplaintFilters, list_complaints, mask_phone, timeline_of
from kesu.complaints.schemas import ComplaintUpdate
from kesu.complaints.sorting import Sort, list_sorted
from kesu.errors import InvalidInput, KesuError, StaleVersion
from kesu.exports.views import workbench_links as export_links
from kesu.knowledge.views import panel as knowledge_panel
from kesu.privacy.masking import mask_json, mask_text
from kesu.privacy.service import (
    audit_contact_read,
    contact_out,
    masked_cases,
    masked_keywords,
    sees_contact,
    shown_text,
)
from kesu.sla.api import sla_view
from kesu.surveys import views as survey_pages
from kesu.taxonomy.enums import Severity
from kesu.taxonomy.models import Category
from kesu.taxonomy.service import active_form_fields, active_stages
from kesu.triage.similar import find_similar
from kesu.triage.views import panel as triage_panel
from kesu.web.csrf import CheckedForm, text
from kesu.web.csrf import version as form_version
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import ID_MAX, ComplaintRef, is_plain_int
from kesu.web.templating import flash, loc, redirect, render
from kesu.workbench.page import category_choices, sort_links, workbench_extras

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
PAGE_SIZE = 50
TABS = ("mine", "team", "all")


# ---- the workbench -------------------------------------------------------------------------


class Queue(BaseModel):
    """The workbench's query string: the tab, the filters and the keyset cursor."""

    tab: str = "mine"
    stage: str = ""
    severity: str = ""
    channel: str = ""
    overdue: str = ""
    q: str = ""
    unassigned: str = ""
    escalated: str = ""
    status: str = "open"
    sort: str = ""
    view: str = ""
    cursor: str = ""
    # From the dashboard's drill-down (kesu.analytics.dashboard.workbench_url).
    category: str = ""
    team: str = ""
    product: str = ""
    region: str = ""
    received_from: str = ""  # local dates, both included
    received_to: str = ""

    def filters(self) -> ComplaintFilters:
        start, end = local_day(self.received_from), local_day(self.received_to)
        return ComplaintFilters(
            stage=self.stage or None,
            severity=self.severity if self.severity in Severity.__members__ else None,
            channel=self.channel if self.channel in Channel.__members__ else None,
            overdue=True if self.overdue else None,
            q=self.q.strip()[:200] or None,
            assignee="me" if self.tab == "mine" else ("none" if self.unassigned else None),
            open={"open": True, "closed": False}.get(self.status) if self.tab == "all" else True,
            team_queue=self.tab == "team",
            escalated=bool(self.escalated),
            category_id=int(self.category) if is_plain_int(self.category, 9) else None,
            team=self.team[:64] or None,
            product=self.product[:128] or None,
            region=self.region[:64] or None,
            received_from=start,
            received_to=end + timedelta(days=1) if end else None,
        )


def local_day(value: str) -> datetime | None:
    """A ``YYYY-MM-DD`` local (Asia/Shanghai) date as the aware moment it begins; else None."""
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None
    return datetime.combine(day, time(), LOCAL_TZ) if day else None


@router.get("/", dependencies=[PageNeeds(Permission.complaint_read)])
def workbench(
    request: Request,
    query: Annotated[Queue, Query()],
    session: ReadSession,
    user: PageUserR,
    clock: ClockDep,
) -> Response:
    """我的待办 / 团队队列 / 全部. Only ``list_complaints`` (keyset, no COUNT): the cost of a
    page does not grow with the number of complaints."""
    sees_all = Role(user.role) in ALL_DATA_ROLES
    if query.tab not in TABS or (query.tab == "all" and not sees_all):
        query.tab = "mine"
    rows: list[Complaint] = []
    next_cursor: str | None = None
    error: KesuError | None = None
    sort = Sort.parse(query.sort)
    query.sort = sort.code if sort else ""
    try:
        cursor = query.cursor[:400] or None
        if sort is None:
            rows, next_cursor = list_complaints(
                session, user, query.filters(), clock.now(), PAGE_SIZE, cursor
            )
        else:
            rows, next_cursor = list_sorted(
                session, user, query.filters(), clock.now(), sort, PAGE_SIZE, cursor
            )
    except KesuError as exc:
        error = exc
    params = query.model_dump(exclude={"cursor"})
    context = {
        "rows": rows,
        "next_cursor": next_cursor,
        "sees_all": sees_all,
        "params": params,
        "sorts": sort_links(params, sort),
        **workbench_extras(request, session, user, params),
        "first_page": not query.cursor,
        "error": error,
        "now": clock.now(),
        "stages": {s.code: s for s in active_stages(session)},
        "mask_phone": mask_phone,
        "channels": list(Channel),
        "export_links": export_links(user, query.filters()),  # kesu.exports
        "drill_category": (
            session.get(Category, int(query.category)) if is_plain_int(query.category, 9) else None
        ),
    }
    return render(request, "complaints/workbench.html", context)


# ---- the complaint page ------------------------------------------------------------------


@dataclass
class FormState:
    """Which form failed, why, and what was typed in it (to show it again)."""

    name: str = ""
    error: KesuError | None = None
    values: dict[str, str] | None = None

    def for_form(self, name: str) -> dict[str, str]:
        """What was typed, for the form that failed; nothing for the others."""
        return (self.values or {}) if name == self.name else {}


def _page(
    request: Request,
    session: Session,
    clock: Clock,
    user: User,
    complaint: Complaint,
    state: FormState | None = None,
    status_code: int = 200,
) -> Response:
    stages = active_stages(session)
    by_code = {s.code: s for s in stages}
    current = by_code.get(complaint.stage)
    may_handle = can(user.role, Permission.complaint_handle)
    acts = bool(
        current
        and may_handle
        and user.role in current.allowed_roles
        and complaint.merged_into_id is None
    )
    category = StageCategory(current.category) if current else StageCategory.closed
    output_specs = [spec for s in stages for spec in s.required_outputs]
    users = list(session.scalars(select(User).where(User.is_active).order_by(User.username)))
    merged_into = (
        session.get(Complaint, complaint.merged_into_id) if complaint.merged_into_id else None
    )
    repeat_of = session.get(Complaint, complaint.repeat_of_id) if complaint.repeat_of_id else None
    masked = not sees_contact(user)  # auditor, finance: phone and email masked everywhere
    events = timeline_of(session, complaint)
    similar = find_similar(session, complaint, 5, user)
    triage = triage_panel(session, complaint, may_handle and not complaint.merged_into_id)
    if masked:
        for event in events:
            session.expunge(event)  # a read session: the masked copy is never flushed
            event.sentence = mask_text(event.sentence)  # type: ignore[attr-defined]
            event.data = mask_json(event.data or {})  # stage outputs shown under the event
        similar = masked_cases(similar)
        if triage is not None:
            masked_keywords(session, triage.result, complaint)
    return render(
        request,
        "complaints/detail.html",
        {
            "c": complaint,
            "stage": current,
            "stages": by_code,
            "now": clock.now(),
            "targets": lifecycle.allowed_targets(stages, current) if acts and current else [],
            "output_specs": output_specs,
            "events": events,
            "files": attachment_pages.for_staff(session, complaint),
            "surveys": survey_pages.for_staff(session, complaint, clock.now()),
            "SURVEY_STATUS": survey_pages.SURVEY_STATUS,
            "contact": contact_out(complaint, masked),
            "safe_text": lambda text: shown_text(text, masked),
            "fields": {f.code: f for f in active_form_fields(session)},
            "teams": list(session.scalars(select(Team).where(Team.is_active).order_by(Team.id))),
            "users": users,
            "categories": category_choices(session),
            "may_handle": may_handle and complaint.merged_into_id is None,
            "may_assign": can(user.role, Permission.complaint_assign),
            "may_claim": complaint.assignee_id is None
            and complaint.is_open
            and can(user.role, Permission.complaint_claim),
            "may_reopen": category in (StageCategory.resolved, StageCategory.closed)
            and complaint.merged_into_id is None
            and can(user.role, Permission.complaint_reopen),
            "may_merge": complaint.merged_into_id is None
            and complaint.is_open
            and can(user.role, Permission.complaint_merge),
            "merged_into": merged_into,
            "sla": sla_view(session, complaint, clock.now()),
            "repeat_of": repeat_of,
            "similar": similar,
            "triage": triage,
            "knowledge": knowledge_panel(session, user, complaint, may_handle),
            "compensation": compensation_pages.panel(session, user, complaint),
            "recommendation": compensation_card(session, complaint, stages),
            "state": state or FormState(),
        },
        status_code,
    )


@router.get("/complaints/{ref}", dependencies=[PageNeeds(Permission.complaint_read)])
def complaint_page(
    request: Request,
    ref: ComplaintRef,
    session: ReadSession,
    db: DatabaseDep,
    user: PageUserR,
    clock: ClockDep,
) -> Response:
    complaint = get_complaint_for_user(session, user, ref)
    if sees_contact(user):
        audit_contact_read(db, clock, user, complaint)
    return _page(request, session, clock, user, complaint)


@dataclass
class Action:
    """One POST on the complaint page: the checked form, the user, the session and the clock."""

    request: Request
    form: FormData
    session: Session
    user: User
    clock: Clock

    @property
    def actor(self) -> Actor:
        return actor_for(self.user)

    def text(self, name: str) -> str:
        return text(self.form, name)

    def version(self) -> int:
        return form_version(self.form)

    def run(
        self, ref: str, form_name: str, permission: Permission, change: Callable[[Complaint], str]
    ) -> Response:
        """Applies ``change`` and commits, then redirects (POST-redirect-GET). On a domain error
        the page is shown again (4xx) with the error above form ``form_name``, values kept."""
        complaint = get_complaint_for_user(self.session, self.user, ref, permission)
        try:
            done = change(complaint)
            self.session.commit()
        except (KesuError, StaleDataError) as exc:
            self.session.rollback()
            error = (
                exc
                if isinstance(exc, KesuError)
                else StaleVersion(_("投诉已被他人修改，请查看最新内容后重试"), field="version")
            )
            values = {k: v for k, v in self.form.items() if isinstance(v, str)}
            values.pop("csrf_token", None)
            fresh = get_complaint_for_user(self.session, self.user, ref)
            state = FormState(form_name, error, values)
            return _page(
                self.request, self.session, self.clock, self.user, fresh, state, error.status_code
            )
        flash(self.request, done)
        return redirect(f"/complaints/{complaint.number}")


def _action(
    request: Request, form: CheckedForm, session: WriteSession, user: PageUserW, clock: ClockDep
) -> Action:
    return Action(request, form, session, user, clock)


Act = Annotated[Action, Depends(_action)]


@router.post("/complaints/{ref}/transition", dependencies=[PageNeedsW(Permission.complaint_handle)])
def transition(ref: ComplaintRef, act: Act) -> Response:
    to = act.text("to")
    outputs = {
        key.removeprefix("out_"): value.strip()
        for key, value in act.form.items()
        if key.startswith("out_") and isinstance(value, str) and value.strip()
    }

    def move(c: Complaint) -> str:
        comment, message = act.text("comment") or None, act.text("message") or None
        target = lifecycle.transition(
            act.session, act.clock, act.actor, c, to, act.version(), outputs, comment, message
        )
        return _("已转到「%(stage)s」") % {"stage": loc(target)}

    return act.run(ref, f"transition-{to}", Permission.complaint_handle, move)


@router.post("/complaints/{ref}/note", dependencies=[PageNeedsW(Permission.complaint_handle)])
def add_note(ref: ComplaintRef, act: Act) -> Response:
    public = act.text("public") == "1"
    files, file_error = attachment_pages.try_uploads(act.form)  # before the write lock

    def note(c: Complaint) -> str:
        body = act.text("body")
        if file_error:
            raise file_error
        if not body and not files:
            raise InvalidInput(_("请填写内容"), field="body")
        if len(body) > 20000:
            raise InvalidInput(_("内容太长（最多 20000 字）"), field="body")
        event = (
            service.add_note(act.session, act.clock, act.actor, c, body, public, act.version())
            if body
            else None
        )
        attachment_pages.attach(
            act.session,
            act.clock,
            c,
            files,
            visibility="public" if public else "internal",
            source="staff",
            uploaded_by=act.user,
            event=event,
        )
        if not body:
            return _("已添加附件")
        return _("已发送给客户") if public else _("已添加内部备注")

    return act.run(ref, "note", Permission.complaint_handle, note)


def _pick(session: Session, model: type[Team] | type[User], value: str) -> Any:
    if not value:
        return None
    found = session.get(model, int(value)) if is_plain_int(value) and int(value) <= ID_MAX else None
    if found is None:
        raise InvalidInput(_("选择无效，请重新选择"), field=model.__tablename__)
    return found


@router.post("/complaints/{ref}/assign", dependencies=[PageNeedsW(Permission.complaint_claim)])
def assign(ref: ComplaintRef, act: Act) -> Response:
    def give(c: Complaint) -> str:
        team = _pick(act.session, Team, act.text("team_id"))
        assignee = _pick(act.session, User, act.text("assignee_id"))
        reason = act.text("reason") or None
        version = act.version()
        service.assign(
            act.session,
            act.clock,
            act.actor,
            c,
            version=version,
            team=team,
            assignee=assignee,
            reason=reason,
        )
        return _("已分配")

    # the service decides who may assign whom (claiming vs. assigning)
    return act.run(ref, "assign", Permission.complaint_read, give)


@router.post("/complaints/{ref}/claim", dependencies=[PageNeedsW(Permission.complaint_claim)])
def claim(ref: ComplaintRef, act: Act) -> Response:
    def take(c: Complaint) -> str:
        version, me = act.version(), act.user
        service.assign(
            act.session,
            act.clock,
            act.actor,
            c,
            version=version,
            team=None,
            assignee=me,
            reason=None,
        )
        return _("已领取，现在由您处理")

    return act.run(ref, "claim", Permission.complaint_claim, take)


@router.post("/complaints/{ref}/reopen", dependencies=[PageNeedsW(Permission.complaint_reopen)])
def reopen(ref: ComplaintRef, act: Act) -> Response:
    def again(c: Complaint) -> str:
        reason = act.text("reason")
        if not reason:
            raise InvalidInput(_("请填写重新打开的原因"), field="reason")
        lifecycle.reopen(act.session, act.clock, act.actor, c, reason, act.version())
        return _("已重新打开（二次处理）")

    return act.run(ref, "reopen", Permission.complaint_reopen, again)


@router.post("/complaints/{ref}/merge", dependencies=[PageNeedsW(Permission.complaint_merge)])
def merge(ref: ComplaintRef, act: Act) -> Response:
    def into(c: Complaint) -> str:
        keep = service.merge_target(act.session, act.user, act.text("into"))
        reason = act.text("reason") or None
        service.merge(act.session, act.clock, act.actor, c, keep, act.version(), reason)
        return _("已合并到 %(n)s") % {"n": keep.number}

    return act.run(ref, "merge", Permission.complaint_merge, into)


@router.post("/complaints/{ref}/update", dependencies=[PageNeedsW(Permission.complaint_handle)])
def update(ref: ComplaintRef, act: Act) -> Response:
    def edit(c: Complaint) -> str:
        current = {"category": str(c.category_id or ""), "severity": c.severity}
        current["priority"] = str(c.priority)
        current["order_value"] = "" if c.order_value is None else f"{c.order_value:.2f}"
        # Only what changed is sent, so the timeline records the real edit.
        wanted: dict[str, Any] = {
            key: act.text(key) for key in current if act.text(key) not in ("", current[key])
        }
        if act.text("reason"):
            wanted["reason"] = act.text("reason")
        try:
            data = ComplaintUpdate.model_validate({**wanted, "version": act.version()})
        except ValidationError as exc:
            field = str(exc.errors()[0]["loc"][0])
            raise InvalidInput(_("输入无效：%(f)s") % {"f": field}, field=field) from None
        service.update_complaint(act.session, act.clock, act.actor, c, data)
        return _("已保存")

    return act.run(ref, "update", Permission.complaint_handle, edit)
