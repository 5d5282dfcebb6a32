"""Pages: my exports (/exports) with their progress, download links and expiry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kesu.accounts.models import User
from kesu.accounts.permissions import PageNeeds
from kesu.accounts.roles import Permission, can
from kesu.complaints.queries import ComplaintFilters
from kesu.exports import service
from kesu.web.deps import ReadSession
from kesu.web.i18n import N_, locale_dependency
from kesu.web.params import QueryId
from kesu.web.templating import render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
STATUS = {
    "queued": N_("排队中"),
    "running": N_("生成中"),
    "done": N_("可下载"),
    "failed": N_("失败"),
    "expired": N_("已过期"),
}


@router.get("/exports")
def exports_page(
    request: Request,
    session: ReadSession,
    user: Annotated[User, PageNeeds(Permission.complaint_export)],
    job: QueryId = None,
) -> Response:
    """我的导出: each background export with its progress; the page reloads itself while one
    is still being written."""
    jobs = [service.job_out(j) for j in service.my_jobs(session, user)]
    busy = any(j["status"] in ("queued", "running") for j in jobs)
    return render(
        request,
        "exports/exports.html",
        {"jobs": jobs, "busy": busy, "status_names": STATUS, "highlight": job},
    )


def workbench_links(user: User, filters: ComplaintFilters) -> dict[str, str]:
    """The workbench's export buttons (Excel, CSV) carrying its current filters; none for
    roles without ``complaint.export``."""
    if not can(user.role, Permission.complaint_export):
        return {}
    query = service.ExportQuery.from_filters(filters)
    return {
        fmt: f"/api/v1/complaints/export?{service.query_string(query, fmt)}"
        for fmt in service.FORMATS
    }
