"""Pages of analytics settings: KPI targets (/admin/kpi-targets, admins) and the business
volume import (/analytics/volumes, managers and admins: CSV or Excel, all rows or none, with
a report naming every bad row)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.views import AdminR, AdminW, PageUserR, PageUserW
from kesu.analytics import service, volumes
from kesu.analytics.models import BusinessVolume
from kesu.errors import KesuError
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, render

router = APIRouter(include_in_schema=False)
PAGE = [Depends(locale_dependency)]
MAX_UPLOAD = 5 * 1024 * 1024
TEMPLATE_CSV = (
    "期间,产品线,地区,订单量\n2026-11,降噪耳机 X1,上海,120000\n2026-11-05,智能手表 S3,,3500\n"
)


def _targets(session: Any) -> list[dict[str, Any]]:
    chosen = service.targets(session)
    return [
        {
            "code": code,
            "name": _(service.NAMES[code]),
            "unit": service.UNITS[code],
            "operator": chosen[code][0] if code in chosen else ">=",
            "value": chosen[code][1] if code in chosen else None,
        }
        for code in service.KPI_CODES
    ]


@router.get("/admin/kpi-targets", dependencies=[*PAGE, PageNeeds(Permission.admin)])
def targets_page(request: Request, session: ReadSession, user: AdminR) -> Response:
    return render(
        request,
        "analytics/kpi_targets.html",
        {"targets": _targets(session), "operators": service.OPERATORS},
    )


@router.post("/admin/kpi-targets", dependencies=[*PAGE, PageNeedsW(Permission.admin)])
def save_targets(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    try:
        for code in service.KPI_CODES:
            raw = text(form, f"value_{code}", 20)
            operator = text(form, f"op_{code}", 2) or ">="
            value: float | None = None
            if raw:
                try:
                    if not raw.replace(".", "", 1).replace("-", "", 1).isdigit():
                        raise ValueError(raw)
                    value = float(raw)
                except ValueError:
                    raise KesuError(
                        _("请输入数字：%(name)s") % {"name": _(service.NAMES[code])},
                        field=f"value_{code}",
                    ) from None
            current = service.targets(session).get(code)
            if (current is None and value is None) or (
                current is not None and value is not None and current == (operator, value)
            ):
                continue
            service.set_target(session, clock, user, code, operator, value)
        session.commit()
        flash(request, _("已保存"))
    except KesuError as exc:
        session.rollback()
        flash(request, str(exc), "error")
    return redirect("/admin/kpi-targets")


def _recent(session: Any) -> list[BusinessVolume]:
    return list(
        session.scalars(
            select(BusinessVolume)
            .order_by(BusinessVolume.updated_at.desc(), BusinessVolume.id.desc())
            .limit(50)
        )
    )


@router.get("/analytics/volumes", dependencies=[*PAGE, PageNeeds(Permission.analytics_volumes)])
def volumes_page(request: Request, session: ReadSession, user: PageUserR) -> Response:
    return render(
        request,
        "analytics/volumes.html",
        {"recent": _recent(session), "errors": [], "stored": None},
    )


@router.get(
    "/analytics/volumes/template.csv",
    dependencies=[*PAGE, PageNeeds(Permission.analytics_volumes)],
)
def volumes_template(user: PageUserR) -> Response:
    return Response(
        TEMPLATE_CSV.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="volumes.csv"'},
    )


@router.post("/analytics/volumes", dependencies=[*PAGE, PageNeedsW(Permission.analytics_volumes)])
async def import_volumes(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: PageUserW
) -> Response:
    upload = form.get("file")
    errors: list[volumes.RowError] = []
    stored = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors = [volumes.RowError(0, "file", _("请选择 CSV 或 Excel 文件"))]
    else:
        data = await upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            errors = [volumes.RowError(0, "file", _("文件过大（最多 5 MB）"))]
        else:
            try:
                rows = volumes.read_upload(upload.filename, data)
                stored = volumes.store(session, clock, rows, user.username, "file")
                session.commit()
            except volumes.VolumeErrors as exc:
                session.rollback()
                errors = exc.errors
    return render(
        request,
        "analytics/volumes.html",
        {
            "recent": _recent(session),
            "errors": errors[:200],
            "more": max(0, len(errors) - 200),
            "stored": stored,
        },
        status_code=422 if errors else 200,
    )
