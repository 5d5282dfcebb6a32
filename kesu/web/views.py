"""Collects the HTML routers of every domain, and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kesu.accounts.permissions import PUBLIC
from kesu.web.i18n import COOKIE, normalize
from kesu.web.params import Code, NextUrl
from kesu.web.templating import redirect, safe_next

router = APIRouter(include_in_schema=False)
ONE_YEAR = 365 * 24 * 3600


@router.get("/lang/{code}", dependencies=[PUBLIC])
def switch_language(request: Request, code: Code, next: NextUrl = "/") -> Response:
    """Remembers the chosen UI language in the ``lang`` cookie and goes back to the page."""
    response = redirect(safe_next(next))
    locale = normalize(code)
    if locale:
        response.set_cookie(COOKIE, locale, max_age=ONE_YEAR, samesite="lax", httponly=True)
    return response


def routers() -> list[APIRouter]:
    # Imported here: the domain views import kesu.web helpers, so this module stays a leaf.
    from kesu.accounts import user_admin_views as user_admin
    from kesu.accounts import views as accounts
    from kesu.analytics import settings_views as analytics_settings
    from kesu.analytics import views as analytics
    from kesu.attachments import views as attachments
    from kesu.compensation import ledger_views as compensation_ledger
    from kesu.compensation import standards_views as compensation_standards
    from kesu.compensation import views as compensation
    from kesu.complaints import repeats_views
    from kesu.complaints import views as complaints
    from kesu.customers import views as customers
    from kesu.exports import views as exports
    from kesu.incidents import views as incidents
    from kesu.intake import health_views as channel_health
    from kesu.intake import views as intake
    from kesu.intake.email import views as email_intake
    from kesu.intake.social import views as social_intake
    from kesu.knowledge import views as knowledge
    from kesu.notify import customer_views as customer_notify
    from kesu.notify import views as notify
    from kesu.reports import views as reports
    from kesu.routing import views as routing
    from kesu.sla import views as sla
    from kesu.surveys import views as surveys
    from kesu.tasks import views as tasks
    from kesu.taxonomy import views as taxonomy
    from kesu.triage import config_views as triage_config
    from kesu.triage import views as triage
    from kesu.workbench import views as workbench

    # intake first: its /complaints/new must win over /complaints/{ref}.
    return [
        intake.router,
        complaints.router,
        repeats_views.router,  # its /admin/repeats page and /api/v1/repeats routes
        customers.router,
        workbench.router,
        accounts.router,
        user_admin.router,
        taxonomy.router,
        routing.router,
        sla.router,
        triage.router,
        triage_config.router,
        notify.router,
        customer_notify.router,
        attachments.router,
        email_intake.router,
        social_intake.router,
        channel_health.router,
        surveys.router,
        knowledge.router,
        compensation_standards.router,
        compensation.router,
        compensation_ledger.router,
        analytics.router,
        analytics_settings.router,
        exports.router,
        reports.router,
        tasks.router,
        incidents.router,
        router,
    ]
