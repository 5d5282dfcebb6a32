"""Admin pages of triage: model versions, training (from the database or an uploaded
history) and the try-it box; and the triage panel of the complaint page (``panel``). The
keyword-rule and lexicon pages are in ``config_views.py``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from kesu.accounts.views import AdminR
from kesu.complaints.models import Complaint
from kesu.errors import InvalidInput, KesuError
from kesu.triage import history, registry, service, training
from kesu.triage.models import TriageResult
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Words in a form field: one per line or separated by commas / 、 / semicolons.
_WORD_SEPARATORS = re.compile(r"[\n,，、;；]+")


# ---- overview: model versions and the try-it box -------------------------------------------


def _overview(
    request: Request,
    session: Session,
    sample: str = "",
    analysis: dict[str, Any] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "models": registry.list_models(session),
        "pending": training.count_pending_corrections(session),
        "retrain_after": request.app.state.settings.triage_retrain_after,
        "sample": sample,
        "analysis": analysis,
        "error": error,
    }
    return render(request, "triage/overview.html", context, status_code)


@router.get("/admin/triage")
def overview(request: Request, session: ReadSession, user: AdminR) -> Response:
    return _overview(request, session)


@router.post("/admin/triage/try")
def try_it(request: Request, form: CheckedForm, session: ReadSession, user: AdminR) -> Response:
    """Shows what triage makes of a pasted text; stores nothing."""
    sample = text(form, "text", 20000)
    if not sample:
        return _overview(request, session, error=InvalidInput(_("请粘贴一段文字"), field="text"))
    analysis = service.analyze(session, sample, with_tokens=True).as_dict()
    return _overview(request, session, sample, analysis)


def _trained(request: Request, outcome: training.TrainOutcome) -> Response:
    """Back to the overview, saying whether the new version replaced the active one."""
    values = {"v": outcome.model.version, "f1": outcome.macro_f1}
    if outcome.activated:
        flash(request, _("已训练版本 %(v)s 并启用（宏 F1 %(f1).3f）") % values)
    else:
        flash(request, _("版本 %(v)s 未超过当前版本，未启用（宏 F1 %(f1).3f）") % values)
    return redirect("/admin/triage")


@router.post("/admin/triage/train")
def train(
    request: Request,
    form: CheckedForm,
    db: DatabaseDep,
    clock: ClockDep,
    user: AdminR,
    session: ReadSession,
) -> Response:
    """Trains a category model now. Not ``AdminW``: training stores its version in a write
    transaction of its own, and a page's write session would hold the lock meanwhile."""
    try:
        outcome = training.train_categories_from_database(db, clock, trained_by=user.label)
    except KesuError as exc:
        return _overview(request, session, error=exc, status_code=exc.status_code)
    return _trained(request, outcome)


@router.post("/admin/triage/import")
async def import_history(
    request: Request,
    form: CheckedForm,
    db: DatabaseDep,
    clock: ClockDep,
    user: AdminR,
    session: ReadSession,
) -> Response:
    """Trains a version from an uploaded file of past complaints (CSV or Excel)."""
    upload = form.get("file")
    if not isinstance(upload, StarletteUploadFile) or not upload.filename:
        error = InvalidInput(_("请选择要上传的文件"), field="file")
        return _overview(request, session, error=error, status_code=422)
    data = await upload.read()
    kind = registry.ModelKind.detection if text(form, "kind", 16) == "detection" else None
    try:
        outcome = await run_in_threadpool(
            history.train_from_upload,
            db,
            clock,
            filename=upload.filename,
            data=data,
            kind=kind or registry.ModelKind.category,
            text_column=text(form, "text_column", 64) or "text",
            label_column=text(form, "label_column", 64) or "label",
            complaint_label=text(form, "complaint_label", 64) or "0",
            trained_by=user.label,
        )
    except KesuError as exc:
        return _overview(request, session, error=exc, status_code=exc.status_code)
    return _trained(request, outcome)


# ---- the complaint page's panel ------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """What the complaint page shows of triage: the stored result, and whether an agent may
    apply a suggested category with one click (only while the complaint has none)."""

    result: TriageResult
    may_apply: bool


def panel(session: Session, complaint: Complaint, may_handle: bool) -> Panel | None:
    result = service.result_for(session, complaint.id)
    if result is None:
        return None
    return Panel(result, may_handle and complaint.category_id is None)
