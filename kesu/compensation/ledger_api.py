"""JSON routes: the ledger (and its Excel export), budgets, the paid callback.

Permissions: reading the ledger and budgets and exporting need ``compensation.ledger``
(managers, executives, finance approvers, auditors, admins); setting a budget needs
``compensation.budget`` and the paid callback ``compensation.pay`` (finance approvers and
admins: the payment system calls with an API token of a finance service account).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.service import Actor
from kesu.compensation import ledger
from kesu.compensation.models import CompensationRequest
from kesu.complaints.numbering import LOCAL_TZ
from kesu.errors import InvalidInput, NotFound
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession
from kesu.web.i18n import gettext as _
from kesu.web.params import Id, QueryId, QueryRef

router = APIRouter(tags=["compensation"])

AMOUNT_PATTERN = r"^\d{1,12}(\.\d{1,2})?$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
PERIOD_PATTERN = r"^\d{4}-\d{2}$"
EXPORT_MAX = 50_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

QueryDate = Annotated[str | None, Query(max_length=10, pattern=DATE_PATTERN)]
QueryPeriod = Annotated[str | None, Query(max_length=7, pattern=PERIOD_PATTERN)]
QueryMethod = Annotated[str | None, Query(max_length=16)]
QueryStatus = Annotated[Literal["paid", "unpaid"] | None, Query()]


class TeamOut(BaseModel):
    id: int
    code: str
    name: str


class ApproverOut(BaseModel):
    user_id: int | None
    label: str
    role: str
    decided_at: str | None


class PayoutOut(BaseModel):
    id: int
    request_id: int
    complaint: str
    team: TeamOut | None
    method: str
    method_label: str
    amount: str
    currency: str
    standard_version: int | None
    approvers: list[ApproverOut]
    approved_at: datetime
    period: str
    status: str  # the request's: approved | paid
    paid_at: datetime | None
    paid_reference: str | None


class TotalsOut(BaseModel):
    count: int
    amount: str
    paid: str
    unpaid: str
    by_method: dict[str, str]


class LedgerOut(BaseModel):
    items: list[PayoutOut]
    totals: TotalsOut
    next_cursor: int | None


class BudgetOut(BaseModel):
    id: int
    period: str
    team: TeamOut | None
    amount: str
    used: str
    remaining: str
    percent: str | None
    level: str  # ok | warning (≥ 80 %) | exceeded (≥ 100 %)
    updated_at: datetime | None
    updated_by: str


class BudgetsOut(BaseModel):
    period: str
    items: list[BudgetOut]


class BudgetIn(BaseModel):
    """A budget: ``team`` is a team code, or null for the whole company."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    period: str = Field(max_length=7, pattern=PERIOD_PATTERN)
    team: str | None = Field(default=None, max_length=64)
    amount: str = Field(max_length=16, pattern=AMOUNT_PATTERN, description='e.g. "50000.00"')


class PaidIn(BaseModel):
    """The payment system's confirmation. ``reference`` is its payment id (idempotency key)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reference: str = Field(min_length=1, max_length=128)
    paid_at: datetime | None = None
    amount: str | None = Field(default=None, max_length=16, pattern=AMOUNT_PATTERN)


class PaidOut(BaseModel):
    request_id: int
    status: str
    replayed: bool
    payout: PayoutOut


# ---- helpers --------------------------------------------------------------------------------


def _team(team: Team | None) -> TeamOut | None:
    return TeamOut(id=team.id, code=team.code, name=team.name) if team is not None else None


def payout_out(row: ledger.LedgerRow) -> PayoutOut:
    p = row.payout
    return PayoutOut(
        id=p.id,
        request_id=p.request_id,
        complaint=row.number,
        team=_team(row.team),
        method=p.method,
        method_label=ledger.method_label(p.method),
        amount=ledger.money_text(p.amount),
        currency=p.currency,
        standard_version=p.standard_version,
        approvers=[ApproverOut(**a) for a in p.approvers or []],
        approved_at=p.approved_at,
        period=p.period,
        status=row.status,
        paid_at=p.paid_at,
        paid_reference=p.paid_reference,
    )


def budget_out(use: ledger.BudgetUse) -> BudgetOut:
    b = use.budget
    return BudgetOut(
        id=b.id,
        period=b.period,
        team=_team(use.team),
        amount=ledger.money_text(use.amount),
        used=ledger.money_text(use.used),
        remaining=ledger.money_text(use.remaining),
        percent=str(use.percent) if use.percent is not None else None,
        level=use.level,
        updated_at=b.updated_at,
        updated_by=b.updated_by,
    )


def _date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or not 2000 <= parsed.year <= 2100:
        raise InvalidInput(_("日期应为 YYYY-MM-DD：%(value)s") % {"value": value}, field=field)
    return parsed


def parse_filters(
    session: Session,
    start: str | None,
    end: str | None,
    period: str | None,
    team: str | None,
    method: str | None,
    status: str | None,
) -> ledger.LedgerFilters:
    """The ledger's filters from the query string (the API, the export and the page)."""
    first, last = _date(start, "from"), _date(end, "to")
    if first is not None and last is not None and first > last:
        raise InvalidInput(_("开始日期不能晚于结束日期"), field="from")
    found = ledger.team_by_code(session, team)
    return ledger.LedgerFilters(
        start=first,
        end=last,
        period=ledger.check_period(period) if period else None,
        team_id=found.id if found is not None else None,
        method=ledger.check_method(method),
        paid=None if not status else status == "paid",
    )


def _load(session: Session, request_id: int) -> ledger.LedgerRow:
    from kesu.compensation.models import CompensationPayout
    from kesu.complaints.models import Complaint

    payout = session.scalar(
        select(CompensationPayout).where(CompensationPayout.request_id == request_id)
    )
    if payout is None:
        raise NotFound(_("赔付申请不存在"))
    complaint = session.get(Complaint, payout.complaint_id)
    request = session.get(CompensationRequest, request_id)
    team = session.get(Team, payout.team_id) if payout.team_id is not None else None
    return ledger.LedgerRow(
        payout,
        complaint.number if complaint is not None else "",
        team,
        request.status if request is not None else "",
    )


# ---- the ledger ------------------------------------------------------------------------------


@router.get("/api/v1/compensation/ledger", response_model=LedgerOut)
def get_ledger(
    session: ReadSession,
    user: Annotated[User, Needs(Permission.compensation_ledger)],
    start: Annotated[QueryDate, Query(alias="from")] = None,
    end: Annotated[QueryDate, Query(alias="to")] = None,
    period: QueryPeriod = None,
    team: QueryRef = None,
    method: QueryMethod = None,
    status: QueryStatus = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: QueryId = None,
) -> LedgerOut:
    """Approved payouts, newest first (``from``/``to``: local dates of the approval,
    inclusive), with the totals of everything the filters match. Amounts are decimal strings."""
    f = parse_filters(session, start, end, period, team, method, status)
    found = ledger.rows(session, f, limit + 1, cursor)
    more = len(found) > limit
    found = found[:limit]
    t = ledger.totals(session, f)
    return LedgerOut(
        items=[payout_out(r) for r in found],
        totals=TotalsOut(
            count=t.count,
            amount=ledger.money_text(t.amount),
            paid=ledger.money_text(t.paid),
            unpaid=ledger.money_text(t.unpaid),
            by_method={m: ledger.money_text(v) for m, v in sorted(t.by_method.items())},
        ),
        next_cursor=found[-1].payout.id if more and found else None,
    )


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (``= + - @``, tab, CR) starts with ``'``."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return "'" + value
    return value


def workbook(session: Session, f: ledger.LedgerFilters) -> tuple[bytes, int]:
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("赔付台账")[:31]
    headers = [
        _("入账编号"),
        _("赔付申请"),
        _("投诉编号"),
        _("团队"),
        _("赔付方式"),
        _("金额"),
        _("币种"),
        _("标准版本"),
        _("审批人"),
        _("批准时间"),
        _("预算期间"),
        _("状态"),
        _("支付时间"),
        _("支付凭证"),
    ]
    sheet.append(headers)
    found = ledger.rows(session, f, EXPORT_MAX + 1)
    if len(found) > EXPORT_MAX:
        raise InvalidInput(
            _("导出最多 %(max)s 行，请缩小筛选范围") % {"max": EXPORT_MAX}, field="from"
        )
    status_words = {"paid": _("已支付"), "approved": _("待支付")}

    def local(value: datetime | None) -> str:
        return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""

    for row in found:
        p = row.payout
        values: list[Any] = [
            p.id,
            p.request_id,
            row.number,
            row.team.name if row.team is not None else "",
            ledger.method_label(p.method),
            ledger.money(p.amount),
            p.currency,
            p.standard_version,
            "、".join(f"{a['label']}（{a['role']}）" for a in p.approvers or []),
            local(p.approved_at),
            p.period,
            status_words.get(row.status, row.status),
            local(p.paid_at),
            p.paid_reference or "",
        ]
        sheet.append([safe_cell(v) for v in values])
    t = ledger.totals(session, f)
    sheet.append([_("合计"), None, None, None, None, t.amount])
    for line in sheet.iter_rows(min_row=2, min_col=6, max_col=6):
        for cell in line:
            if isinstance(cell, Cell):
                cell.number_format = "#,##0.00"
    for column, width in zip(
        "ABCDEFGHIJKLMN", (8, 8, 18, 14, 10, 12, 6, 8, 24, 17, 9, 8, 17, 20), strict=True
    ):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), len(found)


@router.get(
    "/api/v1/compensation/ledger/export",
    responses={200: {"content": {XLSX: {}}, "description": "The ledger as an Excel file."}},
    response_class=Response,
)
def export_ledger(
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, NeedsW(Permission.compensation_ledger)],
    format: Annotated[Literal["xlsx"], Query()] = "xlsx",
    start: Annotated[QueryDate, Query(alias="from")] = None,
    end: Annotated[QueryDate, Query(alias="to")] = None,
    period: QueryPeriod = None,
    team: QueryRef = None,
    method: QueryMethod = None,
    status: QueryStatus = None,
) -> Response:
    """The ledger as Excel (the same filters as ``GET …/ledger``); each export is audited."""
    from kesu.privacy.service import record_export

    del format
    with db.session() as session:
        f = parse_filters(session, start, end, period, team, method, status)
        content, count = workbook(session, f)
        # The ledger holds no contact details: nothing unmasked leaves with it.
        record_export(
            session, clock, Actor.of(user), "compensation_ledger", count, True, f.as_dict()
        )
    stamp = clock.now().astimezone(LOCAL_TZ).strftime("%Y%m%d-%H%M")
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="compensation-ledger-{stamp}.xlsx"'},
    )


# ---- budgets ---------------------------------------------------------------------------------


@router.get("/api/v1/compensation/budgets", response_model=BudgetsOut)
def get_budgets(
    session: ReadSession,
    clock: ClockDep,
    user: Annotated[User, Needs(Permission.compensation_ledger)],
    period: QueryPeriod = None,
) -> BudgetsOut:
    """The budgets of a period (default: this month), with what was used and what remains."""
    chosen = ledger.check_period(period) if period else ledger.period_of(clock.now())
    return BudgetsOut(period=chosen, items=[budget_out(u) for u in ledger.budgets(session, chosen)])


@router.put("/api/v1/compensation/budgets", response_model=BudgetOut)
def put_budget(
    body: BudgetIn,
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, NeedsW(Permission.compensation_budget)],
) -> BudgetOut:
    """Sets the budget of a period and team (``team`` null: the whole company)."""
    with db.session() as session:
        team = ledger.team_by_code(session, body.team)
        budget = ledger.set_budget(
            session, clock, Actor.of(user), body.period, team, Decimal(body.amount)
        )
        use = next(u for u in ledger.budgets(session, budget.period) if u.budget.id == budget.id)
        out = budget_out(use)
    return out


# ---- the paid callback -----------------------------------------------------------------------


@router.post("/api/v1/compensation/requests/{request_id}/paid", response_model=PaidOut)
def paid(
    request_id: Id,
    body: PaidIn,
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, NeedsW(Permission.compensation_pay)],
) -> PaidOut:
    """The order or payment system carried out an approved payout. The same ``reference``
    again answers 200 (``replayed``); another reference, or a request that is not approved,
    is a 409; an ``amount`` other than the payout's is a 422."""
    if body.paid_at is not None and body.paid_at.tzinfo is None:
        raise InvalidInput(_("支付时间须带时区，例如 2026-12-02T10:00:00+08:00"), field="paid_at")
    with db.session() as session:
        result = ledger.mark_paid(
            session,
            clock,
            Actor.of(user),
            request_id,
            body.reference,
            body.paid_at,
            Decimal(body.amount) if body.amount is not None else None,
        )
        out = PaidOut(
            request_id=request_id,
            status=result.request.status,
            replayed=result.replayed,
            payout=payout_out(_load(session, request_id)),
        )
    return out
