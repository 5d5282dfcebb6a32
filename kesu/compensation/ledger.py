"""The ledger: one payout row per approved request, budgets, the execution webhook, the paid
callback. No HTTP here and no commits: the caller owns the unit of work.

- ``record_payout`` is called by ``kesu.compensation.service`` exactly once, in the
  transaction that makes a request ``approved`` (contract 2). It writes the payout (method,
  amount, approvers, time, complaint, team, standard version, budget period), announces the
  budget thresholds it crosses and enqueues the signed webhook event ``compensation.approved``
  through the outbox. ``request_id`` is unique: a second payout for a request is refused.
- ``mark_paid`` is the payment system's callback: idempotent for the same reference.
- Budgets are per period (``YYYY-MM``, the Asia/Shanghai month of the approval) and team
  (``NULL``: the whole company, counting every payout). Used and remaining are computed from
  the payouts, never stored; sums are exact (integer cents in SQL, ``Decimal`` in Python).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, func, select, update
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.service import SYSTEM, Actor
from kesu.clock import Clock
from kesu.compensation.methods import METHODS
from kesu.compensation.models import (
    CompensationApproval,
    CompensationBudget,
    CompensationPayout,
    CompensationRequest,
)
from kesu.complaints import timeline
from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.errors import Conflict, InvalidInput, NotFound
from kesu.web.i18n import gettext as _

CENT = Decimal("0.01")
# Warning thresholds of a budget (percent used); each warns once per budget.
THRESHOLDS = (80, 100)
APPROVED_EVENT = "compensation.approved"
BUDGET_EVENT = "compensation_budget"
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
AMOUNT_MAX = Decimal("999999999999.99")  # what Numeric(14, 2) holds
PAID_SKEW = timedelta(minutes=5)


# ---- periods and money --------------------------------------------------------------------


def period_of(at: datetime) -> str:
    """The budget period of an instant: its month in Beijing time, ``YYYY-MM``."""
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m")


def check_period(value: str, field: str = "period") -> str:
    value = (value or "").strip()
    match = PERIOD_RE.match(value)
    if match is None or not 2000 <= int(match[1]) <= 2100:
        raise InvalidInput(
            _("期间应为 YYYY-MM 格式的月份，例如 2026-12：%(value)s") % {"value": value[:20]},
            field=field,
        )
    return value


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a local month."""
    year, month = int(period[:4]), int(period[5:7])
    start = datetime(year, month, 1, tzinfo=LOCAL_TZ)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return start, end


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT)


def money_text(value: Decimal) -> str:
    """A decimal string with two places, as JSON carries amounts."""
    return str(money(value))


def cents_sum(column: Any) -> ColumnElement[Any]:
    """``SUM`` in integer cents: exact on SQLite too (which keeps NUMERIC as floating point)."""
    return func.coalesce(func.sum(cast(func.round(column * 100), BigInteger)), 0)


def from_cents(cents: int | None) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(CENT)


def method_label(method: str) -> str:
    label = METHODS.get(method)
    return _(label) if label else method


def words(method: str, amount: Decimal) -> str:
    """A payout in words, in the caller's language: "退款 199.00 元"."""
    return _("%(method)s %(amount)s 元") % {
        "method": method_label(method),
        "amount": money_text(amount),
    }


# ---- the payout -----------------------------------------------------------------------------


def approvers_of(session: Session, request: CompensationRequest) -> list[dict[str, Any]]:
    """Who approved ``request``, in chain order (read from its approval steps). A step the
    rule approved (the fast claim's, no approver) names nobody: an empty list means 快速理赔."""
    rows = session.execute(
        select(CompensationApproval, User)
        .join(User, User.id == CompensationApproval.approver_id)
        .where(
            CompensationApproval.request_id == request.id,
            CompensationApproval.decision.in_(("approved", "approve")),
        )
        .order_by(CompensationApproval.step, CompensationApproval.id)
    ).all()
    return [
        {
            "user_id": approval.approver_id,
            "label": user.label,
            "role": approval.role,
            "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
        }
        for approval, user in rows
    ]


def record_payout(
    session: Session, clock: Clock, request: CompensationRequest
) -> CompensationPayout:
    """Writes the payout of ``request`` (just approved) in the caller's transaction.

    Contract: kesu.compensation.service calls this exactly once, in the transaction that
    makes the request ``approved``; the unique ``request_id`` refuses a second payout (a
    409 here when the first is visible, the unique key when two race)."""
    if request.id is None:
        session.flush()
    existing = session.scalar(
        select(CompensationPayout.id).where(CompensationPayout.request_id == request.id)
    )
    if existing is not None:
        raise Conflict(
            _("赔付申请 %(id)s 已有入账记录，不能重复入账") % {"id": request.id},
            code="payout_exists",
        )
    amount = money(request.amount)
    if amount < 0 or amount > AMOUNT_MAX:
        raise InvalidInput(_("赔付金额超出范围"), field="amount")
    complaint = session.get(Complaint, request.complaint_id)
    if complaint is None:
        raise NotFound(_("投诉不存在"))
    now = clock.now()
    payout = CompensationPayout(
        request_id=request.id,
        complaint_id=request.complaint_id,
        team_id=complaint.team_id,
        method=request.method,
        amount=amount,
        currency=request.currency or "CNY",
        standard_version=request.standard_version,
        approved_at=now,
        period=period_of(now),
        approvers=approvers_of(session, request),
    )
    session.add(payout)
    session.flush()
    check_budgets(session, clock, payout.period, payout.team_id)
    _announce(session, clock, complaint, request, payout)
    return payout


def _announce(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    request: CompensationRequest,
    payout: CompensationPayout,
) -> None:
    """The execution hook: ``compensation.approved`` to every endpoint subscribed to it (the
    outbox signs and delivers it; ``X-Kesu-Delivery`` is the outbox row id, the same on every
    retry; ``data.payout_id`` is the same for every endpoint)."""
    from kesu.config import get_settings
    from kesu.notify.service import Notice, notify
    from kesu.web import public_url

    base = public_url.base_url(session, get_settings()).rstrip("/")
    team = session.get(Team, payout.team_id) if payout.team_id is not None else None
    labels = {
        loc: (METHODS.get(payout.method, payout.method) if loc == "zh_CN" else payout.method)
        for loc in ("zh_CN", "en")
    }
    payload = {
        "payout_id": payout.id,
        "request_id": request.id,
        "complaint_id": complaint.id,
        "method": payout.method,
        "amount": money_text(payout.amount),
        "currency": payout.currency,
        "standard_version": payout.standard_version,
        "approved_at": payout.approved_at.isoformat(),
        "period": payout.period,
        "team": team.code if team is not None else None,
        "approvers": [
            {"label": a["label"], "role": a["role"], "decided_at": a["decided_at"]}
            for a in payout.approvers
        ],
        "idempotency_key": f"{APPROVED_EVENT}:{payout.id}",
        "callback": {
            "method": "POST",
            "url": f"{base}/api/v1/compensation/requests/{request.id}/paid",
            "body": {"reference": "<your payment reference>", "amount": money_text(payout.amount)},
        },
    }
    notice = Notice(
        event=APPROVED_EVENT,
        complaint=complaint,
        key=f"{APPROVED_EVENT}:{payout.id}",
        extra={"method": labels, "amount": money_text(payout.amount), "request": request.id},
        urgent=True,
        payload=payload,
    )
    notify(session, clock, notice, [])


# ---- budgets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetUse:
    budget: CompensationBudget
    team: Team | None
    used: Decimal

    @property
    def amount(self) -> Decimal:
        return money(self.budget.amount)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.used

    @property
    def percent(self) -> Decimal | None:
        """Percent used, one decimal (None for a zero budget with nothing used)."""
        if self.amount == 0:
            return None if self.used == 0 else Decimal("100.0")
        return (self.used * 100 / self.amount).quantize(Decimal("0.1"))

    @property
    def level(self) -> str:
        """ok | warning (≥ 80 %) | exceeded (≥ 100 %)."""
        reached = reached_threshold(self.used, self.amount)
        return "exceeded" if reached >= 100 else "warning" if reached >= 80 else "ok"


def reached_threshold(used: Decimal, amount: Decimal) -> int:
    """The highest threshold (0, 80, 100) that ``used`` has reached of ``amount``."""
    if used <= 0:
        return 0
    if amount <= 0:
        return max(THRESHOLDS)
    return max((t for t in THRESHOLDS if used * 100 >= amount * t), default=0)


def used_of(session: Session, period: str, team_id: int | None) -> Decimal:
    """What the period's payouts used: of a team, or (``None``) of the whole company."""
    stmt = select(cents_sum(CompensationPayout.amount)).where(CompensationPayout.period == period)
    if team_id is not None:
        stmt = stmt.where(CompensationPayout.team_id == team_id)
    return from_cents(session.scalar(stmt))


def check_budgets(session: Session, clock: Clock, period: str, team_id: int | None) -> None:
    """Announces each threshold the budgets of ``period`` (the team's and the company's) have
    newly crossed, once per threshold per budget (compare-and-set on ``warned_percent``).

    The budget rows are locked (``FOR UPDATE``, in id order) before their use is summed: two
    payouts approved at once on PostgreSQL are summed one after the other, so the second sees
    the first (under READ COMMITTED each statement reads what is committed) and a threshold
    the two cross together is announced once, never zero times or twice. SQLite serialises
    writers anyway."""
    budgets = session.scalars(
        select(CompensationBudget)
        .where(
            CompensationBudget.period == period,
            (CompensationBudget.team_id.is_(None))
            if team_id is None
            else (CompensationBudget.team_id.is_(None) | (CompensationBudget.team_id == team_id)),
        )
        .order_by(CompensationBudget.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for budget in budgets:
        _check_one(session, clock, budget)


def _check_one(session: Session, clock: Clock, budget: CompensationBudget) -> None:
    used = used_of(session, budget.period, budget.team_id)
    reached = reached_threshold(used, money(budget.amount))
    if reached > budget.warned_percent:
        won = session.execute(
            update(CompensationBudget)
            .where(CompensationBudget.id == budget.id, CompensationBudget.warned_percent < reached)
            .values(warned_percent=reached)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        session.refresh(budget)
        if won:
            _warn(session, clock, budget, used, reached)


def _budget_name(team: Team | None) -> dict[str, str]:
    if team is None:
        return {"zh_CN": "全公司", "en": "company"}
    return {"zh_CN": team.name, "en": team.name_en or team.name}


def _warn(
    session: Session, clock: Clock, budget: CompensationBudget, used: Decimal, reached: int
) -> None:
    """A bell (and email, by preference) for managers and finance approvers."""
    from kesu.notify.service import Notice, notify

    team = session.get(Team, budget.team_id) if budget.team_id is not None else None
    people = session.scalars(
        select(User).where(User.is_active, User.role.in_(("manager", "finance_approver")))
    ).all()
    notice = Notice(
        event=BUDGET_EVENT,
        complaint=None,
        key=f"{BUDGET_EVENT}:{budget.id}:{reached}:{clock.now().timestamp():.0f}",
        extra={
            "period": budget.period,
            "budget": _budget_name(team),
            "percent": str(reached),
            "used": money_text(used),
            "amount": money_text(money(budget.amount)),
        },
        urgent=True,
    )
    notify(session, clock, notice, people)


def team_by_code(session: Session, code: str | None, field: str = "team") -> Team | None:
    if code is None or code == "":
        return None
    team = session.scalar(select(Team).where(Team.code == code))
    if team is None:
        raise InvalidInput(_("未知的团队：%(team)s") % {"team": code[:64]}, field=field)
    return team


def check_amount(value: Decimal, field: str = "amount") -> Decimal:
    if not value.is_finite() or value < 0 or value > AMOUNT_MAX:
        raise InvalidInput(
            _("金额应在 0 到 %(max)s 之间") % {"max": money_text(AMOUNT_MAX)}, field=field
        )
    if value != value.quantize(CENT):
        raise InvalidInput(_("金额最多两位小数"), field=field)
    return money(value)


def set_budget(
    session: Session,
    clock: Clock,
    actor: Actor,
    period: str,
    team: Team | None,
    amount: Decimal,
) -> CompensationBudget:
    """Creates or changes the budget of ``period`` and ``team`` (audited). A budget set below
    what is already used announces the thresholds it is past at once; a raise that brings
    the use back under a threshold lets that threshold warn again when it is next crossed."""
    from kesu.accounts.audit import record_audit

    period = check_period(period)
    amount = check_amount(amount)
    team_id = team.id if team is not None else None
    budget = session.scalar(
        select(CompensationBudget).where(
            CompensationBudget.period == period,
            CompensationBudget.team_id.is_(None)
            if team_id is None
            else CompensationBudget.team_id == team_id,
        )
    )
    before = money_text(budget.amount) if budget is not None else None
    used = used_of(session, period, team_id)
    if budget is None:
        budget = CompensationBudget(period=period, team_id=team_id, amount=amount)
        session.add(budget)
    budget.amount = amount
    budget.warned_percent = min(budget.warned_percent or 0, reached_threshold(used, amount))
    budget.updated_at = clock.now()
    budget.updated_by = actor.label
    session.flush()
    _check_one(session, clock, budget)
    record_audit(
        session,
        clock,
        actor,
        "compensation.budget_set",
        "compensation_budget",
        f"{period}:{team.code if team is not None else '*'}",
        {"amount": [before, money_text(amount)]},
    )
    return budget


def budgets(session: Session, period: str, team_id: int | None = None) -> list[BudgetUse]:
    """The budgets of ``period`` (the company's first, then teams by name), with their use."""
    stmt = (
        select(CompensationBudget, Team)
        .outerjoin(Team, Team.id == CompensationBudget.team_id)
        .where(CompensationBudget.period == period)
    )
    if team_id is not None:
        stmt = stmt.where(
            CompensationBudget.team_id.is_(None) | (CompensationBudget.team_id == team_id)
        )
    rows = session.execute(stmt).all()
    by_team: dict[int | None, int] = dict(
        session.execute(
            select(CompensationPayout.team_id, cents_sum(CompensationPayout.amount))
            .where(CompensationPayout.period == period)
            .group_by(CompensationPayout.team_id)
        ).all()
    )
    total = sum((from_cents(c) for c in by_team.values()), Decimal("0.00"))
    out = [
        BudgetUse(b, t, total if b.team_id is None else from_cents(by_team.get(b.team_id)))
        for b, t in rows
    ]
    return sorted(out, key=lambda u: (u.team is not None, u.team.name if u.team else ""))


# ---- reading the ledger ---------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilters:
    start: date | None = None  # local dates [start, end]
    end: date | None = None
    period: str | None = None
    team_id: int | None = None
    method: str | None = None
    paid: bool | None = None  # True: paid, False: unpaid

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if v is not None else None) for k, v in self.__dict__.items()}


def check_method(method: str | None) -> str | None:
    if method in (None, ""):
        return None
    if method not in METHODS:
        raise InvalidInput(
            _("未知的赔付方式：%(method)s（可选：%(options)s）")
            % {"method": str(method)[:32], "options": ", ".join(METHODS)},
            field="method",
        )
    return method


def _where(stmt: Any, f: LedgerFilters) -> Any:
    p = CompensationPayout
    if f.start is not None:
        stmt = stmt.where(p.approved_at >= datetime.combine(f.start, time(), LOCAL_TZ))
    if f.end is not None:
        end = datetime.combine(f.end + timedelta(days=1), time(), LOCAL_TZ)
        stmt = stmt.where(p.approved_at < end)
    if f.period is not None:
        stmt = stmt.where(p.period == f.period)
    if f.team_id is not None:
        stmt = stmt.where(p.team_id == f.team_id)
    if f.method is not None:
        stmt = stmt.where(p.method == f.method)
    if f.paid is True:
        stmt = stmt.where(p.paid_at.is_not(None))
    elif f.paid is False:
        stmt = stmt.where(p.paid_at.is_(None))
    return stmt


@dataclass(frozen=True)
class LedgerRow:
    payout: CompensationPayout
    number: str
    team: Team | None
    status: str  # the request's status (approved | paid)


def rows(
    session: Session, f: LedgerFilters, limit: int, before_id: int | None = None
) -> list[LedgerRow]:
    """Newest first, keyset by id (``before_id``: the last id of the previous page)."""
    stmt = (
        select(CompensationPayout, Complaint.number, Team, CompensationRequest.status)
        .join(Complaint, Complaint.id == CompensationPayout.complaint_id)
        .join(CompensationRequest, CompensationRequest.id == CompensationPayout.request_id)
        .outerjoin(Team, Team.id == CompensationPayout.team_id)
        .order_by(CompensationPayout.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(CompensationPayout.id < before_id)
    return [LedgerRow(p, n, t, s) for p, n, t, s in session.execute(_where(stmt, f)).all()]


@dataclass(frozen=True)
class Totals:
    count: int
    amount: Decimal
    paid: Decimal
    unpaid: Decimal
    by_method: dict[str, Decimal]


def totals(session: Session, f: LedgerFilters) -> Totals:
    p = CompensationPayout
    paid_cents = func.coalesce(
        func.sum(cast(func.round(p.amount * 100), BigInteger)).filter(p.paid_at.is_not(None)), 0
    )
    count, amount, paid = session.execute(
        _where(select(func.count(p.id), cents_sum(p.amount), paid_cents), f)
    ).one()
    by_method = {
        m: from_cents(c)
        for m, c in session.execute(
            _where(select(p.method, cents_sum(p.amount)).group_by(p.method), f)
        ).all()
    }
    total = from_cents(amount)
    return Totals(int(count), total, from_cents(paid), total - from_cents(paid), by_method)


def count(session: Session, f: LedgerFilters) -> int:
    return int(session.scalar(_where(select(func.count(CompensationPayout.id)), f)) or 0)


# ---- the paid callback ----------------------------------------------------------------------


@dataclass(frozen=True)
class Paid:
    payout: CompensationPayout
    request: CompensationRequest
    replayed: bool


def mark_paid(
    session: Session,
    clock: Clock,
    actor: Actor,
    request_id: int,
    reference: str,
    paid_at: datetime | None = None,
    amount: Decimal | None = None,
) -> Paid:
    """The payment system carried the payout out: the payout is paid, the request ``paid``.

    Idempotent for the same reference (``replayed``); a different reference, or a request
    that is not approved, is a 409; an amount other than the payout's is a 422. The first
    call wins with a compare-and-set on ``paid_reference IS NULL``."""
    reference = reference.strip()
    if not reference:
        raise InvalidInput(_("请填写支付凭证号"), field="reference")
    request = session.get(CompensationRequest, request_id)
    if request is None:
        raise NotFound(_("赔付申请不存在"))
    payout = session.scalar(
        select(CompensationPayout).where(CompensationPayout.request_id == request_id)
    )
    if payout is None or request.status not in ("approved", "paid"):
        raise Conflict(
            _("赔付申请 %(id)s 尚未批准（状态：%(status)s），不能标记为已支付")
            % {"id": request_id, "status": request.status},
            code="not_approved",
        )
    if payout.paid_reference is not None:
        return _replay(payout, request, reference)
    if amount is not None and money(amount) != money(payout.amount):
        raise InvalidInput(
            _("支付金额 %(paid)s 与批准的赔付金额 %(amount)s 不一致")
            % {"paid": money_text(amount), "amount": money_text(payout.amount)},
            field="amount",
        )
    now = clock.now()
    when = paid_at or now
    if when > now + PAID_SKEW or when < payout.approved_at - PAID_SKEW:
        raise InvalidInput(_("支付时间应在批准之后、当前时间之前"), field="paid_at")
    won = session.execute(
        update(CompensationPayout)
        .where(CompensationPayout.id == payout.id, CompensationPayout.paid_reference.is_(None))
        .values(paid_at=when, paid_reference=reference)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(payout)
    if not won:
        return _replay(payout, request, reference)
    request.status = "paid"
    if CompensationRequest.__mapper__.version_id_col is None:
        request.version = (request.version or 0) + 1
    complaint = session.get(Complaint, request.complaint_id)
    if complaint is not None:
        timeline.record(
            session,
            clock,
            actor if actor.user is not None else SYSTEM,
            complaint,
            "compensation_paid",
            body=f"赔付已支付：{METHODS.get(payout.method, payout.method)} "
            f"{money_text(payout.amount)} 元（支付凭证 {reference}）",
            data={
                "request_id": request.id,
                "payout_id": payout.id,
                "method": payout.method,
                "amount": money_text(payout.amount),
                "reference": reference,
                "paid_at": when.isoformat(),
            },
            audit={
                "request_id": request.id,
                "payout_id": payout.id,
                "reference": reference,
                "amount": money_text(payout.amount),
                "paid_at": when.isoformat(),
            },
        )
    session.flush()
    return Paid(payout, request, False)


def _replay(payout: CompensationPayout, request: CompensationRequest, reference: str) -> Paid:
    if payout.paid_reference == reference:
        return Paid(payout, request, True)
    raise Conflict(
        _("该赔付已以另一支付凭证号标记为已支付"),
        code="paid_other_reference",
        field="reference",
    )


def paid_words(session: Session, complaint_ids: list[int]) -> dict[int, str]:
    """What each complaint's payouts were, in words (the similar-case card): paid ones say so."""
    if not complaint_ids:
        return {}
    found: dict[int, list[str]] = {}
    for complaint_id, method, amount, paid_at in session.execute(
        select(
            CompensationPayout.complaint_id,
            CompensationPayout.method,
            CompensationPayout.amount,
            CompensationPayout.paid_at,
        )
        .where(CompensationPayout.complaint_id.in_(complaint_ids))
        .order_by(CompensationPayout.id)
    ).all():
        text = words(method, amount)
        if paid_at is not None:
            text = _("%(payout)s（已支付）") % {"payout": text}
        found.setdefault(complaint_id, []).append(text)
    return {k: _("；").join(v) for k, v in found.items()}
