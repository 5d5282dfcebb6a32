"""Channel health for admins: the page /admin/channels and GET /api/v1/channels/health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kesu.accounts.permissions import Needs, PageNeeds
from kesu.accounts.roles import Permission
from kesu.accounts.views import AdminR
from kesu.complaints.access import require
from kesu.intake import health
from kesu.web.deps import ClockDep, ReadSession, UserR
from kesu.web.i18n import locale_dependency
from kesu.web.templating import render

router = APIRouter()


def _report(session: Any, now: Any) -> dict[str, Any]:
    return {
        "generated_at": now,
        "day_start": health.day_start(now),
        "channels": [health.health_out(e) for e in health.collect(session, now)],
        "customer_outbox": health.customer_outbox_failures(session, now),
    }


@router.get("/api/v1/channels/health", tags=["channels"], dependencies=[Needs(Permission.admin)])
def channels_health(session: ReadSession, user: UserR, clock: ClockDep) -> dict[str, Any]:
    """Per channel (every channel that ever delivered a complaint) and per configured mailbox
    and social source: last delivery or poll, errors, complaints received today (the
    Asia/Shanghai day); and failed messages to customers by outgoing channel (admins)."""
    require(user, Permission.admin)
    return _report(session, clock.now())


@router.get(
    "/admin/channels",
    include_in_schema=False,
    dependencies=[Depends(locale_dependency), PageNeeds(Permission.admin)],
)
def channels_page(
    request: Request, session: ReadSession, user: AdminR, clock: ClockDep
) -> Response:
    return render(request, "intake/channels.html", _report(session, clock.now()))
