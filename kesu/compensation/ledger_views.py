"""Pages: the ledger (/compensation/ledger: filters, totals, budgets with their warnings, the
payouts, the Excel export link) and the budget form (finance approvers and admins)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.compensation import ledger
from kesu.compensation.ledger_api import (
    QueryDate,
    QueryMethod,
    QueryPeriod,
    QueryStatus,
    parse_filters,
)
from kesu.compensation.methods import METHODS
from kesu.errors import InvalidInput, KesuError
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import QueryId, QueryRef
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
PAGE = 200


def _context(
    session: Session,
    user: User,
    now_period: str,
    query: dict[str, str],
    cursor: int | None,
) -> dict[str, Any]:
    period = query.get("period") or ""
    f = parse_filters(
        session,
        query.get("from"),
        query.get("to"),
        period or None,
        query.get("team"),
        query.get("method"),
        query.get("status"),
    )
    found = ledger.rows(session, f, PAGE + 1, cursor)
    more = found[PAGE].payout.id if len(found) > PAGE else None
    budget_period = period or now_period
    kept = {k: v for k, v in query.items() if v}
    return {
        "query": query,
        "rows": found[:PAGE],
        "more": urlencode({**kept, "cursor": found[PAGE - 1].payout.id}) if more else "",
        "totals": ledger.totals(session, f),
        "budget_period": budget_period,
        "budgets": ledger.budgets(session, budget_period),
        "teams": list(session.scalars(select(Team).where(Team.is_active).order_by(Team.name))),
        "methods": METHODS,
        "export": "/api/v1/compensation/ledger/export?" + urlencode({"format": "xlsx", **kept}),
        "can_budget": can(user.role, Permission.compensation_budget),
        "money": ledger.money_text,
        "method_label": ledger.method_label,
    }


@router.get("/compensation/ledger")
def ledger_page(
    request: Request,
    session: ReadSession,
    clock: ClockDep,
    user: Annotated[User, PageNeeds(Permission.compensation_ledger)],
    start: Annotated[QueryDate, Query(alias="from")] = None,
    end: Annotated[QueryDate, Query(alias="to")] = None,
    period: QueryPeriod = None,
    team: QueryRef = None,
    method: QueryMethod = None,
    status: QueryStatus = None,
    cursor: QueryId = None,
) -> Response:
    query = {
        "from": start or "",
        "to": end or "",
        "period": period or "",
        "team": team or "",
        "method": method or "",
        "status": status or "",
    }
    now_period = ledger.period_of(clock.now())
    try:
        context = _context(session, user, now_period, query, cursor)
        error = None
    except KesuError as exc:
        empty = {k: "" for k in query}
        context, error = _context(session, user, now_period, empty, None), exc
        context["query"] = query
    context["error"] = error
    return render(request, "compensation/ledger.html", context, error.status_code if error else 200)


@router.post("/compensation/ledger/budgets")
def save_budget(
    request: Request,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: Annotated[User, PageNeedsW(Permission.compensation_budget)],
) -> Response:
    period = text(form, "period", 7)
    try:
        raw = text(form, "amount", 16).replace(",", "")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise InvalidInput(_("请填写金额，例如 50000.00"), field="amount") from None
        team = ledger.team_by_code(session, text(form, "team", 64) or None)
        ledger.set_budget(session, clock, Actor.of(user), period, team, amount)
        session.commit()
    except KesuError as exc:
        session.rollback()
        context = _context(session, user, ledger.period_of(clock.now()), {}, None)
        context.update(error=exc, query={"period": ""}, budget_form=dict(form))
        return render(request, "compensation/ledger.html", context, exc.status_code)
    flash(request, _("预算已保存"))
    return redirect("/compensation/ledger?" + urlencode({"period": period}))
