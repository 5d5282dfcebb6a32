"""JSON routes: the workbench export, and the background export jobs.

``GET /api/v1/complaints/export`` is registered before the complaints API, so this path wins
over ``/api/v1/complaints/{ref}``. Its filters are those of ``GET /api/v1/complaints`` (plus
the workbench's ``escalated`` and ``queue=team``), turned into the list's ``ComplaintFilters``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel
from starlette.responses import Response

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.errors import Conflict
from kesu.exports import service
from kesu.taxonomy.enums import Severity
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, SettingsDep
from kesu.web.i18n import gettext as _
from kesu.web.params import Id, QueryId, QueryRef

# Received dates a drill-down may ask for (bounded: the fuzzer's year 1 or 9999 names nothing).
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
router = APIRouter(tags=["exports"])


class ExportJobOut(BaseModel):
    id: int
    status: str  # queued | running | done | failed | expired
    format: str
    progress: float  # 0…1
    rows: int
    total: int | None
    masked: bool
    filters: dict[str, Any]
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    download_url: str | None


class ExportJobList(BaseModel):
    items: list[ExportJobOut]


def _disposition(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.get(
    "/api/v1/complaints/export",
    responses={
        200: {
            "content": {media: {} for media in service.MEDIA_TYPES.values()},
            "description": "The file (up to KESU_EXPORT_SYNC_MAX_ROWS rows).",
        },
        202: {"model": ExportJobOut, "description": "A background job (more rows than that)."},
    },
    response_class=Response,
)
def export_complaints(
    request: Request,
    db: DatabaseDep,
    user: Annotated[User, NeedsW(Permission.complaint_export)],
    clock: ClockDep,
    settings: SettingsDep,
    format: Literal["xlsx", "csv"] = "xlsx",
    stage: QueryRef = None,
    team: QueryRef = None,
    assignee: QueryRef = None,
    severity: Severity | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    overdue: bool | None = None,
    open: bool | None = None,
    channel: QueryRef = None,
    escalated: bool = False,
    queue: Literal["team"] | None = None,
    category: QueryId = None,
    product: Annotated[str | None, Query(max_length=128)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    received_from: Annotated[date | None, Query(ge=EARLIEST, le=LATEST)] = None,
    received_to: Annotated[date | None, Query(ge=EARLIEST, le=LATEST)] = None,
) -> Response:
    """The workbench list with these filters as Excel or CSV (contacts masked for roles
    without ``contact.view``; every export audited). Larger than the threshold: 202 with a
    background job (a browser asking for HTML is sent to ``/exports`` instead)."""
    query = service.ExportQuery(
        stage=stage,
        team=team,
        assignee=assignee,
        severity=severity.value if severity else None,
        q=(q.strip() or None) if q else None,
        overdue=overdue,
        open=open,
        channel=channel,
        escalated=escalated,
        queue=queue,
        category=category,
        product=(product.strip() or None) if product else None,
        region=(region.strip() or None) if region else None,
        received_from=received_from.isoformat() if received_from else None,
        received_to=received_to.isoformat() if received_to else None,
    )
    outcome = service.start(db, clock, settings, user, query, format)
    if isinstance(outcome, service.Immediate):
        name = service.file_name(format, clock.now())
        if format == "csv":
            lines: Iterator[str] = service.csv_lines(outcome.rows)
            return StreamingResponse(
                (line.encode("utf-8") for line in lines),
                media_type=service.MEDIA_TYPES["csv"],
                headers=_disposition(name),
            )
        return Response(
            service.xlsx_bytes(outcome.rows),
            media_type=service.MEDIA_TYPES["xlsx"],
            headers=_disposition(name),
        )
    location = f"/api/v1/exports/{outcome.id}"
    if _wants_html(request):
        return RedirectResponse(f"/exports?job={outcome.id}", status_code=303)
    return JSONResponse(
        ExportJobOut.model_validate(service.job_out(outcome)).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": location},
    )


@router.get(
    "/api/v1/exports",
    response_model=ExportJobList,
)
def list_jobs(
    session: ReadSession, user: Annotated[User, Needs(Permission.complaint_export)]
) -> dict[str, Any]:
    """My background exports, newest first (the last 50)."""
    return {"items": [service.job_out(job) for job in service.my_jobs(session, user)]}


@router.get(
    "/api/v1/exports/{job_id}",
    response_model=ExportJobOut,
)
def get_job(
    job_id: Id, session: ReadSession, user: Annotated[User, Needs(Permission.complaint_export)]
) -> dict[str, Any]:
    """A background export's status and progress (only its requester and admins see it)."""
    return service.job_out(service.visible_job(session, user, job_id))


@router.get(
    "/api/v1/exports/{job_id}/download",
    response_class=FileResponse,
    responses={
        200: {"content": {media: {} for media in service.MEDIA_TYPES.values()}},
    },
)
def download(
    job_id: Id,
    session: ReadSession,
    settings: SettingsDep,
    user: Annotated[User, Needs(Permission.complaint_export)],
) -> FileResponse:
    """The finished file (only its requester and admins); 409 while not ready or expired."""
    job = service.visible_job(session, user, job_id)
    path = service.job_path(settings, job) if job.status == "done" else None
    if path is None or not path.is_file():
        if job.status == "expired" or job.status == "done":
            raise Conflict(_("这个导出已过期，文件已删除"), field="id")
        raise Conflict(_("这个导出还没有完成"), field="id")
    name = service.file_name(job.format, job.created_at)
    return FileResponse(
        path,
        media_type=service.MEDIA_TYPES[job.format],
        filename=name,
        headers={"Cache-Control": "no-store"},
    )
