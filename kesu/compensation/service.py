"""Compensation requests and their decisions.

- ``request``: an agent asks for a method and an amount on a complaint. The recommendation
  (``kesu.compensation.recommend``) is read in the same transaction and kept on the request
  (rule, standard version, method and amount); another method, or an amount above the
  recommendation (above its range's cap), is a deviation and needs a reason. The amount's tier
  (``approvals.route``) gives the steps; a fast claim (快速理赔) is approved at once by the
  system rule. One open request per complaint (a partial unique index backs the check).
- ``decide``: the current step's approver approves or rejects (a reason is required to reject).
  The request row is locked (``FOR UPDATE`` on PostgreSQL; SQLite's write lock serialises
  writers) and its ``version`` is the mapper's version column, so two approvers at once give
  one decision: the second sees a decided request (409), or a stale version (409).
- The last approval (or the fast claim) calls ``ledger.record_payout`` exactly once, sets
  ``complaint.outputs["compensation"]`` (a one-line summary in words) and writes the timeline
  event ``compensation_decided`` with its audit row. Each newly pending step notifies its
  approvers (the bell, through ``kesu.notify``).

Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import Team, User
from kesu.accounts.service import SYSTEM, Actor
from kesu.clock import Clock
from kesu.compensation import approvals, ledger
from kesu.compensation.methods import METHODS
from kesu.compensation.models import CompensationApproval, CompensationRequest
from kesu.compensation.recommend import Recommendation, recommend
from kesu.complaints import timeline
from kesu.complaints.models import Complaint
from kesu.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from kesu.notify.service import Notice, notify
from kesu.web.i18n import current_locale
from kesu.web.i18n import gettext as _

STATUSES = ("pending", "approved", "rejected", "paid", "cancelled")
OPEN = "pending"
DECIDED = frozenset({"approved", "rejected", "paid", "cancelled"})
MAX_REASON = 2000


def recommendation(session: Session, complaint: Complaint) -> Recommendation | None:
    """The recommendation for ``complaint`` (None: no rule applies)."""
    return recommend(session, complaint)


# ---- words ------------------------------------------------------------------------------


def method_label(method: str) -> str:
    return _(METHODS[method]) if method in METHODS else method


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def summary(method: str, amount: Decimal) -> str:
    """ "退款 199.00 元" / "Refund CNY 199.00" in the current language."""
    return _("%(method)s %(amount)s 元") % {"method": method_label(method), "amount": money(amount)}


def summary_zh(method: str, amount: Decimal) -> str:
    """The Chinese summary kept in ``complaint.outputs["compensation"]``."""
    return f"{METHODS.get(method, method)} {money(amount)} 元"


def team_name(team: Team | None) -> str:
    if team is None:
        return ""
    return (team.name_en or team.name) if current_locale() == "en" else team.name


# ---- checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deviation:
    deviates: bool
    why: str = ""


def deviation(rec: Recommendation | None, method: str, amount: Decimal) -> Deviation:
    """Whether ``method``/``amount`` departs from ``rec``: no rule, another method than the
    recommendation or its choices, or more than the amount (a range's cap)."""
    if rec is None:
        return Deviation(True, _("没有适用的赔付标准"))
    allowed: dict[str, Decimal] = {rec.method: rec.amount_max or rec.amount}
    for choice in rec.choices:
        cap = choice.amount_max or choice.amount
        allowed[choice.method] = max(cap, allowed.get(choice.method, Decimal(0)))
    if method not in allowed:
        return Deviation(True, _("赔付方式与推荐不同"))
    if amount > allowed[method]:
        return Deviation(
            True, _("金额高于推荐上限 %(amount)s 元") % {"amount": money(allowed[method])}
        )
    return Deviation(False)


def _reason(raw: str | None) -> str:
    reason = (raw or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("理由最多 %(n)d 字") % {"n": MAX_REASON}, field="reason")
    return reason


def open_request(session: Session, complaint_id: int) -> CompensationRequest | None:
    return session.scalar(
        select(CompensationRequest).where(
            CompensationRequest.complaint_id == complaint_id, CompensationRequest.status == OPEN
        )
    )


# ---- the request ------------------------------------------------------------------------


def request(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    method: str,
    amount_raw: object,
    reason_raw: str | None = None,
) -> CompensationRequest:
    """Makes a request (a fast claim is approved at once); returns it."""
    if method not in METHODS:
        raise InvalidInput(
            _("未知的赔付方式：%(method)s（可选：%(all)s）")
            % {"method": method, "all": ", ".join(METHODS)},
            field="method",
        )
    amount = approvals.parse_amount(amount_raw)
    reason = _reason(reason_raw)
    if complaint.merged_into_id is not None or not complaint.is_open:
        raise Conflict(_("投诉已关闭或已合并，不能再申请赔付"), field="id")
    if open_request(session, complaint.id) is not None:
        raise Conflict(
            _("这条投诉已有一个待审批的赔付申请，请等它有结果后再申请"), code="request_open"
        )
    rec = recommendation(session, complaint)
    dev = deviation(rec, method, amount)
    if dev.deviates and not reason:
        raise InvalidInput(
            _("与推荐方案不同（%(why)s），请填写理由") % {"why": dev.why}, field="reason"
        )
    plan = approvals.route(session, complaint, amount)
    now = clock.now()
    req = CompensationRequest(
        complaint_id=complaint.id,
        rule_id=rec.rule_id if rec else None,
        rule_name=(rec.rule_name if rec else "")[:128],
        standard_version=rec.standard_version if rec else None,
        recommended_method=rec.method if rec else None,
        recommended_amount=rec.amount if rec else None,
        method=method,
        amount=amount,
        currency="CNY",
        status=OPEN,
        requested_by=actor.user_id,
        created_at=now,
        reason=reason,
        deviation=dev.deviates,
        chain=plan.tier.kind,
        tier=plan.tier.code,
    )
    session.add(req)
    try:
        session.flush()
    except IntegrityError:  # another request of this complaint won the race
        raise Conflict(
            _("这条投诉已有一个待审批的赔付申请，请等它有结果后再申请"), code="request_open"
        ) from None
    for step in plan.steps:
        session.add(
            CompensationApproval(
                request_id=req.id, step=step.step, role=step.role, team_id=step.team_id
            )
        )
    words = summary_zh(method, amount)
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        "compensation_requested",
        body=f"申请赔付：{words}",
        data={
            "request": req.id,
            "method": method,
            "amount": money(amount),
            "chain": plan.tier.kind,
            "deviation": dev.deviates,
            "reason": reason,
        },
        audit={"request": req.id, "method": method, "amount": money(amount)},
    )
    if plan.tier.kind == "fast" or not plan.steps:
        limit = plan.tier.max_amount
        session.add(
            CompensationApproval(
                request_id=req.id,
                step=1,
                role="system",
                decision="approved",
                reason=f"快速理赔：金额不超过 {money(limit)} 元，按规则即时批准"
                if limit is not None
                else "快速理赔：按规则即时批准",
                decided_at=now,
            )
        )
        session.flush()
        _approved(session, clock, SYSTEM, complaint, req)
    else:
        session.flush()
        _notify_pending(session, clock, complaint, req)
    return req


# ---- the decision -----------------------------------------------------------------------


def load_for_update(session: Session, request_id: int) -> CompensationRequest:
    """The request, its row locked until the transaction ends (PostgreSQL; SQLite writers
    are serialised by the write lock already)."""
    req = session.scalar(
        select(CompensationRequest)
        .where(CompensationRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if req is None:
        raise NotFound(_("没有这个赔付申请：%(id)s") % {"id": request_id}, field="id")
    return req


def steps_of(session: Session, req: CompensationRequest) -> list[CompensationApproval]:
    return list(
        session.scalars(
            select(CompensationApproval)
            .where(CompensationApproval.request_id == req.id)
            .order_by(CompensationApproval.step, CompensationApproval.id)
        )
    )


def decide(
    session: Session,
    clock: Clock,
    user: User,
    request_id: int,
    decision: str,
    reason_raw: str | None,
    version: int | None = None,
) -> CompensationRequest:
    """Approves or rejects the step of ``request_id`` that ``user`` may decide."""
    if decision not in ("approve", "reject"):
        raise InvalidInput(_("决定须为 approve 或 reject"), field="decision")
    reason = _reason(reason_raw)
    if decision == "reject" and not reason:
        raise InvalidInput(_("驳回须填写理由"), field="reason")
    req = load_for_update(session, request_id)
    if req.status != OPEN:
        raise Conflict(_("这个赔付申请已有结果，不能再审批"), code="decided")
    if version is not None and version != req.version:
        raise StaleVersion(
            _("这个赔付申请已被他人更新（版本 %(v)s），请刷新后重试") % {"v": req.version},
            field="version",
        )
    if req.requested_by == user.id:
        raise Forbidden(_("不能审批自己提交的赔付申请"), code="own_request")
    steps = steps_of(session, req)
    if any(s.approver_id == user.id for s in steps):
        raise Forbidden(_("您已审批过这个申请的一步，下一步须由他人审批"), code="already_decided")
    current = approvals.current_step(steps)
    mine = next((s for s in steps if s.step == current and approvals.may_decide(user, s)), None)
    if mine is None:
        waiting = [s for s in steps if s.step == current and s.decision == "pending"]
        who = "、".join(_step_words(session, s) for s in waiting)
        raise Forbidden(_("这一步须由 %(who)s 审批") % {"who": who or "-"}, code="not_your_step")
    now = clock.now()
    complaint = session.get(Complaint, req.complaint_id)
    assert complaint is not None
    actor = Actor.of(user)
    mine.approver_id = user.id
    mine.decided_at = now
    mine.reason = reason
    mine.decision = "approved" if decision == "approve" else "rejected"
    req.steps_done += 1  # a change of the row: the flush compares and bumps its version
    if decision == "reject":
        for other in steps:
            if other.decision == "pending":
                other.decision = "skipped"
        req.status = "rejected"
        req.decided_at = now
        session.flush()  # the version compare-and-set: a concurrent decision fails here
        _decided_event(session, clock, actor, complaint, req, reason)
        _notify_requester(session, clock, complaint, req)
        return req
    if approvals.current_step(steps) is None:
        _approved(session, clock, actor, complaint, req)
    else:
        session.flush()  # the version compare-and-set
        record_audit(
            session,
            clock,
            actor,
            "compensation.approve_step",
            "compensation_requests",
            req.id,
            {"step": mine.step, "role": mine.role, "team": mine.team_id},
        )
        if approvals.current_step(steps) != current:
            _notify_pending(session, clock, complaint, req)
    return req


def cancel(
    session: Session, clock: Clock, user: User, request_id: int, reason_raw: str | None
) -> CompensationRequest:
    """Withdraws a pending request (its requester, or a lead/manager of the complaint): the
    open steps are skipped, nothing is paid, and a new request may be made."""
    from kesu.accounts.roles import Permission, can
    from kesu.complaints.access import get_complaint_for_user

    reason = _reason(reason_raw)
    req = load_for_update(session, request_id)
    complaint = get_complaint_for_user(session, user, req.complaint_id)
    if req.requested_by != user.id and not can(user.role, Permission.complaint_assign):
        raise Forbidden(_("只有申请人或组长、主管可以撤回赔付申请"), code="not_yours")
    if req.status != OPEN:
        raise Conflict(_("这个赔付申请已有结果，不能再审批"), code="decided")
    for step in steps_of(session, req):
        if step.decision == "pending":
            step.decision = "skipped"
    req.status = "cancelled"
    req.decided_at = clock.now()
    session.flush()  # the version compare-and-set
    _decided_event(session, clock, Actor.of(user), complaint, req, reason)
    return req


def _approved(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, req: CompensationRequest
) -> None:
    """The request's last step is approved: status, payout (exactly once), output, timeline."""
    req.status = "approved"
    req.decided_at = clock.now()
    session.flush()  # the compare-and-set on the version before anything is paid
    ledger.record_payout(session, clock, req)
    words = summary_zh(req.method, req.amount)
    complaint.outputs = {**(complaint.outputs or {}), "compensation": words}
    _decided_event(session, clock, actor, complaint, req, "")
    _notify_requester(session, clock, complaint, req)


def _decided_event(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    req: CompensationRequest,
    reason: str,
) -> None:
    words = summary_zh(req.method, req.amount)
    approved = req.status == "approved"
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        "compensation_decided",
        body=(
            f"赔付已批准：{words}"
            if approved
            else f"赔付申请已撤回：{words}"
            if req.status == "cancelled"
            else f"赔付被驳回：{words}（{reason}）"
        ),
        data={
            "request": req.id,
            "status": req.status,
            "method": req.method,
            "amount": money(req.amount),
            "chain": req.chain,
            "reason": reason,
        },
        audit={"request": req.id, "status": req.status, "amount": money(req.amount)},
    )


def _step_words(session: Session, step: CompensationApproval) -> str:
    team = session.get(Team, step.team_id) if step.team_id else None
    role = approvals.role_label(step.role)
    return f"{team_name(team)}{role}" if team is not None else role


# ---- notifications ----------------------------------------------------------------------


def _extra(session: Session, req: CompensationRequest) -> dict[str, Any]:
    from kesu.web import public_url

    return {
        "queue": f"{public_url.base_url(session).rstrip('/')}/compensation/queue",
        "method": {"zh_CN": METHODS.get(req.method, req.method), "en": _en_method(req.method)},
        "amount": money(req.amount),
        "request": req.id,
    }


def _en_method(method: str) -> str:
    from kesu.web.i18n import translations

    return translations("en").gettext(METHODS.get(method, method))


def _notify_pending(
    session: Session, clock: Clock, complaint: Complaint, req: CompensationRequest
) -> None:
    steps = steps_of(session, req)
    current = approvals.current_step(steps)
    people: dict[int, User] = {}
    for step in steps:
        if step.step == current and step.decision == "pending":
            for user in approvals.approvers(session, step, exclude=req.requested_by):
                people[user.id] = user
    if people:
        notify(
            session,
            clock,
            Notice(
                "compensation_pending",
                complaint,
                key=f"compensation:{req.id}:step{current}",
                extra=_extra(session, req),
                endpoints=False,
            ),
            people.values(),
        )


def _notify_requester(
    session: Session, clock: Clock, complaint: Complaint, req: CompensationRequest
) -> None:
    if req.requested_by is None:
        return
    requester = session.get(User, req.requested_by)
    if requester is None or req.chain == "fast":
        return
    notify(
        session,
        clock,
        Notice(
            f"compensation_{req.status}",
            complaint,
            key=f"compensation:{req.id}:{req.status}",
            extra=_extra(session, req),
            endpoints=False,
        ),
        [requester],
    )


# ---- reads ------------------------------------------------------------------------------


def of_complaint(session: Session, complaint: Complaint) -> list[CompensationRequest]:
    return list(
        session.scalars(
            select(CompensationRequest)
            .where(CompensationRequest.complaint_id == complaint.id)
            .order_by(CompensationRequest.id.desc())
            .limit(50)
        )
    )


def awaits(session: Session, user: User, complaint_id: int) -> bool:
    """Whether a pending request of the complaint waits for ``user``'s decision now: such an
    approver (a department lead of a joint review, a manager) may read the complaint even
    outside their team's scope, to decide with the facts in front of them."""
    return any(
        r.complaint_id == complaint_id for r in queue(session, user, complaint_id=complaint_id)
    )


def queue(
    session: Session, user: User, limit: int = 200, *, complaint_id: int | None = None
) -> list[CompensationRequest]:
    """The pending requests whose current step ``user`` may decide (never their own)."""
    A = CompensationApproval
    R = CompensationRequest
    current = (
        select(A.request_id, func.min(A.step).label("step"))
        .where(A.decision == "pending")
        .group_by(A.request_id)
        .subquery()
    )
    query = (
        select(R)
        .join(current, current.c.request_id == R.id)
        .join(A, and_(A.request_id == R.id, A.step == current.c.step))
        .where(
            R.status == OPEN,
            A.decision == "pending",
            A.role == user.role,
            or_(A.team_id.is_(None), A.team_id == user.team_id),
            or_(R.requested_by.is_(None), R.requested_by != user.id),
            R.complaint_id == complaint_id if complaint_id is not None else true(),
        )
        .order_by(R.id)
        .limit(limit)
    )
    found = list(dict.fromkeys(session.scalars(query)))
    done = set(
        session.scalars(
            select(A.request_id).where(
                A.approver_id == user.id, A.request_id.in_([r.id for r in found])
            )
        )
    )
    return [r for r in found if r.id not in done]


def listing(
    session: Session,
    user: User,
    *,
    status: str | None,
    mine: bool,
    limit: int,
    before: int | None = None,
) -> list[CompensationRequest]:
    """Requests for the API list: ``mine`` — the ones the user made; else those the user
    may decide (pending) or, for readers of the ledger, all; newest first."""
    from kesu.accounts.roles import Permission, can

    R = CompensationRequest
    if not mine and not can(user.role, Permission.compensation_ledger):
        rows = queue(session, user, 500)
        if status not in (None, OPEN):
            rows = []
        rows = [r for r in reversed(rows) if before is None or r.id < before]
        return rows[:limit]
    query = select(R).order_by(R.id.desc()).limit(limit)
    if mine:
        query = query.where(R.requested_by == user.id)
    if status:
        query = query.where(R.status == status)
    if before is not None:
        query = query.where(R.id < before)
    return list(session.scalars(query))
