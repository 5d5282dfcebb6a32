"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.middleware.sessions import SessionMiddleware

from kesu import __version__
from kesu.accounts.api import router as accounts_api
from kesu.accounts.permissions import PUBLIC
from kesu.attachments import service as attachments_service
from kesu.clock import Clock, SystemClock
from kesu.complaints.api import router as complaints_api
from kesu.config import Settings, get_settings
from kesu.db import Database
from kesu.taxonomy.api import router as taxonomy_api
from kesu.web import docs, errors, health, public_url, warmup
from kesu.web.middleware import BodySizeLimit, RefuseNul, RequestLocale, RetryAfterOnBusy

STATIC_DIR = Path(__file__).parent / "static"
# Routes that take a file (an exported complaint history) larger than an ordinary request.
UPLOAD_PATHS = ("/admin/triage/import", "/api/v1/triage/models/import")
# Routes that take attachments (multipart): the public form, the tracking page, notes and
# messages, the agent's entry form, the attachments API.
UPLOAD_PATTERNS = (
    r"/submit",
    r"/t/[^/]+(/.*)?",
    r"/complaints/new",
    r"/complaints/[^/]+/(note|attachments)",
    r"/api/v1/complaints/[^/]+/attachments",
)


def _lifespan(
    threads: int, warm_up: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        if warm_up:
            # Before the first request is accepted: the segmenter, the models, the
            # templates and the configuration are ready (kesu.web.warmup).
            app.state.warm_up_ms = await anyio.to_thread.run_sync(warmup.warm, app)
        yield

    return lifespan


def _telemetry(enabled: bool) -> TelemetryConfig:
    if enabled:
        return {}
    return {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, db: Database | None = None
) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="kesu 客诉",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        description="Customer complaint management: intake, triage, closed loop, SLA.",
        # Not under tests: a cache warmed before a test writes its own configuration (a model
        # row, a lexicon) would hide it from the test for the caches' few seconds.
        lifespan=_lifespan(settings.threads, settings.warm_up and settings.environment != "test"),
        telemetry=_telemetry(settings.telemetry),
        # Every route documents the one error shape for the error statuses (errors.ErrorBody).
        responses=errors.ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.db = db or Database(
        settings.database_url, settings.db_pool_size, settings.write_lock_timeout_seconds
    )

    attachments_service.configure(settings)

    errors.install(app)
    docs.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _include_insight(app)  # first: its /api/v1/complaints/export must win over /{id}
    app.include_router(complaints_api)
    app.include_router(accounts_api)
    app.include_router(taxonomy_api)
    _include_workbench(app)
    _include_automation(app)
    _include_customer_side(app)
    _include_views(app)

    @app.get("/healthz", tags=["health"], dependencies=[PUBLIC])
    async def healthz() -> JSONResponse:
        """Database and disk; never waits for the write lock or the request threads."""
        return await health.report(app.state.settings, app.state.db)

    app.add_middleware(RefuseNul)  # innermost: sees the session, after the size limit
    app.add_middleware(RetryAfterOnBusy, seconds=max(1, round(settings.write_lock_timeout_seconds)))
    app.add_middleware(
        SessionMiddleware,
        # Signs only the session id (and the CSRF token); the session itself is a row
        # (kesu.accounts.sessions), so signing out ends it everywhere.
        secret_key=settings.session_secret(),
        session_cookie="kesu",
        same_site="lax",
        https_only=settings.base_url.startswith("https"),
        max_age=int(settings.session_hours * 3600),
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=max(
            settings.max_upload_bytes,
            # a full upload of attachments, plus the form's own fields
            settings.attachments_per_upload * settings.attachment_max_bytes + 1_048_576,
        ),
        upload_paths=UPLOAD_PATHS,
        upload_patterns=UPLOAD_PATTERNS,
    )
    app.add_middleware(RequestLocale)
    app.add_middleware(public_url.RequestOrigin)  # the address links are made with
    return app


def _include_automation(app: FastAPI) -> None:
    """Routing rules, SLA, notifications, tasks and incidents (JSON routes)."""
    from kesu.customers.api import router as customers_api
    from kesu.notify.api import router as notify_api
    from kesu.routing.api import router as routing_api
    from kesu.sla.api import router as sla_api
    from kesu.tasks.api import router as tasks_api
    from kesu.triage.api import router as triage_api
    from kesu.triage.similar_api import router as similar_api

    for router in (routing_api, sla_api, notify_api, tasks_api, similar_api, triage_api):
        app.include_router(router)
    from kesu.search.api import router as lookup_api

    app.include_router(lookup_api)  # /customers/lookup, before /customers/{id} (kesu.search)
    app.include_router(customers_api)  # customer records, their anonymisation (kesu.privacy)


def _include_customer_side(app: FastAPI) -> None:
    """Attachments and the intake channels (email, social) (JSON routes)."""
    from kesu.attachments.api import router as attachments_api
    from kesu.intake.email.api import router as email_api
    from kesu.intake.social.api import router as social_api
    from kesu.knowledge.api import router as knowledge_api
    from kesu.surveys.api import router as surveys_api

    for router in (attachments_api, email_api, social_api, surveys_api, knowledge_api):
        app.include_router(router)


def _include_insight(app: FastAPI) -> None:
    """Compensation, analytics, exports and reports (JSON routes)."""
    from kesu.analytics.api import router as analytics_api
    from kesu.compensation.api import router as compensation_api
    from kesu.compensation.ledger_api import router as ledger_api
    from kesu.compensation.standards_api import router as standards_api
    from kesu.exports.api import router as exports_api
    from kesu.reports.api import router as reports_api

    for router in (
        standards_api,
        compensation_api,
        ledger_api,
        exports_api,
        analytics_api,
        reports_api,
    ):
        app.include_router(router)


def _include_workbench(app: FastAPI) -> None:
    """Bulk actions and saved views of the workbench (JSON routes)."""
    from kesu.complaints.bulk_api import router as bulk_api
    from kesu.workbench.api import router as views_api

    app.include_router(bulk_api)
    app.include_router(views_api)


def _include_views(app: FastAPI) -> None:
    """HTML pages; each domain has its own ``views.py``."""
    from kesu.web import views as web_views

    for router in web_views.routers():
        app.include_router(router)
