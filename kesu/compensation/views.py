"""Pages: the request card on the complaint page (``panel``), the approver's queue
(/compensation/queue), the thresholds admin page (/admin/compensation/approvals) and the
decision on the customer's tracking page (``for_tracking``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import AdminPageR, AdminPageW, PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.accounts.views import PageUserR, PageUserW
from kesu.compensation import approvals, service
from kesu.compensation.methods import METHODS
from kesu.compensation.models import CompensationApproval, CompensationRequest
from kesu.complaints.access import get_complaint_for_user
from kesu.complaints.models import Complaint
from kesu.errors import KesuError, StaleVersion
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession
from kesu.web.i18n import N_, current_locale, locale_dependency, translations
from kesu.web.i18n import gettext as _
from kesu.web.params import ComplaintRef, Id
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
STATUS_LABELS = {
    "pending": N_("待审批"),
    "approved": N_("已批准"),
    "rejected": N_("已驳回"),
    "paid": N_("已支付"),
    "cancelled": N_("已取消"),
}
DECISION_LABELS = {
    "pending": N_("待审批"),
    "approved": N_("同意"),
    "rejected": N_("驳回"),
    "skipped": N_("无需审批"),
}


# ---- shared pieces ----------------------------------------------------------------------


def _teams(session: Session) -> dict[int, Team]:
    return {t.id: t for t in session.scalars(select(Team))}


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.label for u in session.scalars(select(User).where(User.id.in_(ids)))}


def _rows(session: Session, requests: list[CompensationRequest]) -> list[dict[str, Any]]:
    """Requests with their steps in words, for the staff pages."""
    teams = _teams(session)
    steps: dict[int, list[CompensationApproval]] = {r.id: [] for r in requests}
    if requests:
        for a in session.scalars(
            select(CompensationApproval)
            .where(CompensationApproval.request_id.in_(list(steps)))
            .order_by(CompensationApproval.step, CompensationApproval.id)
        ):
            steps[a.request_id].append(a)
    people = {r.requested_by for r in requests if r.requested_by} | {
        a.approver_id for rows in steps.values() for a in rows if a.approver_id
    }
    names = _names(session, people)
    out = []
    for r in requests:
        current = approvals.current_step(steps[r.id])
        out.append(
            {
                "row": r,
                "summary": service.summary(r.method, r.amount),
                "status": _(STATUS_LABELS.get(r.status, r.status)),
                "chain": _(approvals.KIND_LABELS.get(r.chain, r.chain)),
                "requested_by": names.get(r.requested_by or 0, ""),
                "recommended": (
                    service.summary(r.recommended_method, r.recommended_amount)
                    if r.recommended_method and r.recommended_amount is not None
                    else ""
                ),
                "steps": [
                    {
                        "row": a,
                        "who": (service.team_name(teams.get(a.team_id)) if a.team_id else "")
                        + approvals.role_label(a.role),
                        "decision": _(DECISION_LABELS.get(a.decision, a.decision)),
                        "by": names.get(a.approver_id or 0, ""),
                        "current": a.step == current and a.decision == "pending",
                    }
                    for a in steps[r.id]
                ],
            }
        )
    return out


def _may_decide(session: Session, user: User, req: CompensationRequest) -> bool:
    if req.status != service.OPEN or req.requested_by == user.id:
        return False
    steps = service.steps_of(session, req)
    if any(a.approver_id == user.id for a in steps):
        return False
    current = approvals.current_step(steps)
    return any(a.step == current and approvals.may_decide(user, a) for a in steps)


def words_in(locale: str, method: str, amount: Decimal) -> str:
    """ "退款 199.00 元" in ``locale`` (the customer's language, not the reader's)."""
    t = translations(locale)
    return t.gettext("%(method)s %(amount)s 元") % {
        "method": t.gettext(METHODS.get(method, method)),
        "amount": service.money(amount),
    }


# ---- the complaint page's card ----------------------------------------------------------


def panel(session: Session, user: User, complaint: Complaint) -> dict[str, Any]:
    """What the complaint page shows: the requests, the form (prefilled from the
    recommendation), the approve/reject form when the user decides the current step, and
    ``prefill`` for the 方案制定 output (the approved compensation in words)."""
    requests = service.of_complaint(session, complaint)
    open_req = next((r for r in requests if r.status == service.OPEN), None)
    rec = None
    may_request = (
        can(user.role, Permission.compensation_request)
        and complaint.is_open
        and complaint.merged_into_id is None
        and open_req is None
    )
    if may_request:
        rec = service.recommendation(session, complaint)
    approved = next((r for r in requests if r.status in ("approved", "paid")), None)
    prefill: dict[str, str] = {}
    if approved is not None:
        locale = complaint.locale or "zh_CN"
        t = translations(locale)
        prefill["solution"] = t.gettext("为您办理赔付：%(what)s。") % {
            "what": words_in(locale, approved.method, approved.amount)
        }
    return {
        "requests": _rows(session, requests),
        "open": open_req,
        "may_request": may_request,
        "may_decide": open_req is not None and _may_decide(session, user, open_req),
        "may_cancel": open_req is not None
        and can(user.role, Permission.compensation_request)
        and (open_req.requested_by == user.id or can(user.role, Permission.complaint_assign)),
        "rec": rec,
        "methods": [(code, _(label)) for code, label in METHODS.items()],
        "tiers": _tier_words(session),
        "prefill": prefill,
    }


def _tier_words(session: Session) -> list[str]:
    teams = {t.code: service.team_name(t) for t in session.scalars(select(Team))}
    out = []
    low: Decimal | None = None
    for tier in approvals.tiers(session):
        if tier.max_amount is not None:
            bound = _("≤ %(max)s 元") % {"max": service.money(tier.max_amount)}
        else:
            bound = _("> %(min)s 元") % {"min": service.money(low or Decimal(0))}
        out.append(f"{bound} — {approvals.describe(tier, teams)}")
        low = tier.max_amount
    return out


def _complaint_page(
    request: Request,
    session: Session,
    clock: Any,
    user: User,
    ref: str,
    error: KesuError,
    values: dict[str, str],
) -> Response:
    from kesu.complaints.views import FormState, _page

    fresh = get_complaint_for_user(session, user, ref)
    state = FormState("compensation", error, values)
    return _page(request, session, clock, user, fresh, state, error.status_code)


@router.post(
    "/complaints/{ref}/compensation", dependencies=[PageNeedsW(Permission.compensation_request)]
)
def request_page(
    request: Request,
    ref: ComplaintRef,
    form: CheckedForm,
    session: WriteSession,
    user: PageUserW,
    clock: ClockDep,
) -> Response:
    values = {
        name: text(form, name, service.MAX_REASON + 1) for name in ("method", "amount", "reason")
    }
    complaint = get_complaint_for_user(session, user, ref, Permission.compensation_request)
    try:
        req = service.request(
            session,
            clock,
            Actor.of(user),
            complaint,
            values["method"][:32],
            values["amount"][:32],
            values["reason"],
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _complaint_page(request, session, clock, user, ref, exc, values)
    if req.status == "approved":
        flash(
            request,
            _("快速理赔：%(what)s 已按规则批准")
            % {"what": service.summary(req.method, req.amount)},
        )
    else:
        flash(request, _("赔付申请已提交，等待审批"))
    return redirect(f"/complaints/{complaint.number}#compensation")


def _decide(
    request: Request,
    request_id: int,
    form: Any,
    session: Session,
    user: User,
    clock: Any,
) -> KesuError | CompensationRequest:
    raw_version = text(form, "version", 12)
    version = int(raw_version) if raw_version.isascii() and raw_version.isdigit() else None
    try:
        req = service.decide(
            session,
            clock,
            user,
            request_id,
            text(form, "decision", 16),
            text(form, "reason", service.MAX_REASON + 1),
            version,
        )
        session.commit()
        return req
    except StaleDataError:
        session.rollback()
        return StaleVersion(_("这个赔付申请已被他人更新，请刷新后重试"), field="version")
    except KesuError as exc:
        session.rollback()
        return exc


@router.post(
    "/compensation/requests/{request_id}/decision",
    dependencies=[PageNeedsW(Permission.compensation_approve)],
)
def decision_page(
    request: Request,
    request_id: Id,
    form: CheckedForm,
    session: WriteSession,
    user: PageUserW,
    clock: ClockDep,
) -> Response:
    """Approve or reject from the queue (or the complaint page: ``back`` = its number)."""
    outcome = _decide(request, request_id, form, session, user, clock)
    back = text(form, "back", 40)
    target = (
        f"/complaints/{back}#compensation"
        if back and back.replace("-", "").isalnum()
        else "/compensation/queue"
    )
    if isinstance(outcome, KesuError):
        flash(request, outcome.message, "error")
    else:
        words = service.summary(outcome.method, outcome.amount)
        flash(
            request,
            {
                "approved": _("已批准：%(what)s，已记入赔付台账") % {"what": words},
                "rejected": _("已驳回：%(what)s") % {"what": words},
            }.get(outcome.status, _("已同意，等待下一步审批")),
        )
    return redirect(target)


@router.post(
    "/compensation/requests/{request_id}/cancel",
    dependencies=[PageNeedsW(Permission.compensation_request)],
)
def cancel_page(
    request: Request,
    request_id: Id,
    form: CheckedForm,
    session: WriteSession,
    user: PageUserW,
    clock: ClockDep,
) -> Response:
    """Withdraw a pending request from the complaint page."""
    try:
        req = service.cancel(session, clock, user, request_id, text(form, "reason", 2001))
        session.commit()
    except (KesuError, StaleDataError) as exc:
        session.rollback()
        message = (
            exc.message
            if isinstance(exc, KesuError)
            else _("这个赔付申请已被他人更新，请刷新后重试")
        )
        flash(request, message, "error")
        back = text(form, "back", 40)
        ok = back and back.replace("-", "").isalnum()
        return redirect(f"/complaints/{back}#compensation" if ok else "/compensation/queue")
    complaint = session.get(Complaint, req.complaint_id)
    flash(request, _("赔付申请已撤回"))
    return redirect(f"/complaints/{complaint.number if complaint else ''}#compensation")


# ---- the queue --------------------------------------------------------------------------


@router.get("/compensation/queue", dependencies=[PageNeeds(Permission.compensation_approve)])
def queue_page(request: Request, session: ReadSession, user: PageUserR) -> Response:
    mine = service.queue(session, user)
    complaints = {
        c.id: c
        for c in session.scalars(
            select(Complaint).where(Complaint.id.in_([r.complaint_id for r in mine]))
        )
    }
    waiting_mine = list(
        session.scalars(
            select(CompensationRequest)
            .where(
                CompensationRequest.requested_by == user.id,
                CompensationRequest.status == service.OPEN,
            )
            .order_by(CompensationRequest.id.desc())
            .limit(50)
        )
    )
    recent = list(
        session.scalars(
            select(CompensationRequest)
            .join(CompensationApproval, CompensationApproval.request_id == CompensationRequest.id)
            .where(CompensationApproval.approver_id == user.id)
            .order_by(CompensationRequest.id.desc())
            .limit(20)
        )
    )
    others = {
        c.id: c
        for c in session.scalars(
            select(Complaint).where(
                Complaint.id.in_([r.complaint_id for r in waiting_mine + recent])
            )
        )
    }
    return render(
        request,
        "compensation/queue.html",
        {
            "section": "compensation",
            "rows": _rows(session, mine),
            "complaints": {**complaints, **others},
            "waiting_mine": _rows(session, waiting_mine),
            "recent": _rows(session, list(dict.fromkeys(recent))),
            "total": sum(r.amount for r in mine),
        },
    )


# ---- the thresholds (admin) -------------------------------------------------------------


def _tiers_page(
    request: Request,
    session: Session,
    rows: list[dict[str, Any]] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    if rows is None:
        rows = [t.as_dict() for t in approvals.tiers(session)]
    blank = {"code": "", "kind": "chain", "max_amount": "", "roles": [], "departments": []}
    teams = list(session.scalars(select(Team).where(Team.is_active).order_by(Team.id)))
    return render(
        request,
        "compensation/approvals.html",
        {
            "section": "admin",
            "rows": [*rows, blank],
            "default": approvals.is_default(session),
            "roles": [(r.value, approvals.role_label(r.value)) for r in approvals.APPROVER_ROLES],
            "teams": teams,
            "KINDS": [(k, _(approvals.KIND_LABELS[k])) for k in approvals.KINDS],
            "error": error,
            "unstaffed": _unstaffed(session, rows, teams),
        },
        status_code,
    )


def _unstaffed(session: Session, rows: list[dict[str, Any]], teams: list[Team]) -> list[str]:
    """Steps nobody can decide: a role no active user holds, a department without a lead."""
    held = set(session.scalars(select(User.role).where(User.is_active).distinct()))
    led = set(
        session.scalars(
            select(User.team_id).where(User.is_active, User.role == "team_lead").distinct()
        )
    )
    by_code = {t.code: t for t in teams}
    out = []
    for row in rows:
        for role in row.get("roles") or []:
            if role not in held:
                out.append(
                    _("档位 %(tier)s：没有在职的「%(role)s」，这一步无人能审批")
                    % {"tier": row["code"], "role": approvals.role_label(role)}
                )
        for code in row.get("departments") or []:
            team = by_code.get(code)
            if team is not None and team.id not in led:
                out.append(
                    _("档位 %(tier)s：%(team)s 没有组长，联合审核无法完成")
                    % {"tier": row["code"], "team": service.team_name(team)}
                )
    return out


@router.get("/admin/compensation/approvals")
def tiers_page(request: Request, session: ReadSession, user: AdminPageR) -> Response:
    return _tiers_page(request, session)


@router.post("/admin/compensation/approvals")
def save_tiers(
    request: Request, form: CheckedForm, session: WriteSession, user: AdminPageW, clock: ClockDep
) -> Response:
    rows: list[dict[str, Any]] = []
    for i in range(approvals.MAX_TIERS + 1):
        code = text(form, f"code.{i}", 64)
        if not code:
            continue
        rows.append(
            {
                "code": code,
                "kind": text(form, f"kind.{i}", 16),
                "max_amount": text(form, f"max.{i}", 32) or None,
                "roles": [r for r in form.getlist(f"roles.{i}") if isinstance(r, str)][:10],
                "departments": [d for d in form.getlist(f"departments.{i}") if isinstance(d, str)][
                    :10
                ],
            }
        )
    try:
        tiers = approvals.parse_tiers(session, rows)
        approvals.save(session, clock, Actor.of(user), tiers)
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _tiers_page(request, session, rows, exc, exc.status_code)
    flash(request, _("审批阈值已保存"))
    return redirect("/admin/compensation/approvals")


# ---- the tracking page ------------------------------------------------------------------


def for_tracking(session: Session, complaint: Complaint) -> dict[str, Any] | None:
    """The latest request as the customer sees it: what, the outcome, and the rule it came
    from in plain words. Never the approvers' names or internal reasons."""
    req = session.scalar(
        select(CompensationRequest)
        .where(
            CompensationRequest.complaint_id == complaint.id,
            CompensationRequest.status != "cancelled",
        )
        .order_by(CompensationRequest.id.desc())
        .limit(1)
    )
    if req is None:
        return None
    locale = current_locale()
    rule_words = _rule_words(session, req, locale)
    how = {
        "fast": _("金额在快速理赔标准内，已按规则即时批准。"),
        "chain": _("已按公司赔付标准逐级审核。"),
        "joint": _("金额较大，已由相关部门联合审核。"),
    }
    return {
        "status": req.status,
        "status_label": {
            "pending": _("审核中"),
            "approved": _("已批准"),
            "paid": _("已支付"),
            "rejected": _("未获批准"),
        }.get(req.status, _(STATUS_LABELS.get(req.status, req.status))),
        "what": service.summary(req.method, req.amount),
        "decided_at": req.decided_at,
        "how": how.get(req.chain, "") if req.status in ("approved", "paid") else "",
        "rule": rule_words,
        "version": req.standard_version,
    }


def _rule_words(session: Session, req: CompensationRequest, locale: str) -> str:
    if req.rule_id is None:
        return _("本次赔付按个案处理（没有直接适用的标准条款），已经审核。")
    from kesu.compensation import standards
    from kesu.compensation.models import StandardRule

    rule = session.get(StandardRule, req.rule_id)
    if rule is None:
        return req.rule_name
    return standards.rule_in_words(rule, locale)
