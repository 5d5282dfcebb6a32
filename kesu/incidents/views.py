"""Incident pages: the list, one incident with its linked complaints, closing it with a note."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission
from kesu.complaints import event_text
from kesu.errors import KesuError, NotFound
from kesu.incidents import service
from kesu.incidents.models import Incident
from kesu.taxonomy.service import active_stages
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import N_, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.templating import flash, redirect, render

Reader = Annotated[User, PageNeeds(Permission.complaint_assign)]
Writer = Annotated[User, PageNeedsW(Permission.complaint_assign)]


def label_of(table: dict[str, str], code: str) -> str:
    """A stored code in words, in the reader's language."""
    return _(table[code]) if code in table else code


router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
STATUS_LABELS = {"open": N_("处理中"), "closed": N_("已关闭")}


def incident_title(ctx: event_text.Context, incident: Incident) -> str:
    """The batch rule's title in the reader's language (it is stored in Chinese)."""
    prefix = "批量投诉："
    if incident.title.startswith(prefix):
        path = incident.title[len(prefix) :]
        return _("批量投诉：%(category)s") % {"category": ctx.category(path)}
    return incident.title


def opener(incident: Incident) -> str:
    label = incident.opened_by
    if label.startswith("规则「"):
        return _("规则「%(rule)s」") % {"rule": label[3:].rstrip("」")}
    return label


def _labels(session: Session) -> dict[str, object]:
    return {
        "status_label": partial(label_of, STATUS_LABELS),
        "title": partial(incident_title, event_text.context(session)),
        "opener": opener,
    }


@router.get("/incidents")
def incidents_page(
    request: Request,
    session: ReadSession,
    user: Reader,
    status: Annotated[str, Query(pattern="^(open|closed|any)$")] = "open",
) -> Response:
    rows = service.incidents(session, None if status == "any" else status)
    return render(
        request, "incidents/incidents.html", {"rows": rows, "status": status, **_labels(session)}
    )


def _incident(session: Session, incident_id: int) -> Incident:
    found = session.get(Incident, incident_id)
    if found is None:
        raise NotFound(_("没有这个应急事件"), field="id")
    return found


def _detail(
    request: Request,
    session: Session,
    incident: Incident,
    error: KesuError | None = None,
    note: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "i": incident,
        "complaints": service.linked(session, incident),
        "stages": {s.code: s for s in active_stages(session)},
        "error": error,
        "note": note,
        **_labels(session),
    }
    return render(request, "incidents/incident.html", context, status_code)


@router.get("/incidents/{incident_id}")
def incident_page(
    request: Request, incident_id: IncidentId, session: ReadSession, user: Reader
) -> Response:
    return _detail(request, session, _incident(session, incident_id))


@router.post("/incidents/{incident_id}/close")
def close(
    request: Request,
    incident_id: IncidentId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: Writer,
) -> Response:
    incident = _incident(session, incident_id)
    note = text(form, "note")
    try:
        service.close_incident(session, clock, actor_for(user), incident, note)
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _detail(
            request, session, _incident(session, incident_id), exc, note, exc.status_code
        )
    flash(
        request,
        _("已关闭应急事件「%(title)s」")
        % {"title": incident_title(event_text.context(session), incident)},
    )
    return redirect(f"/incidents/{incident_id}")
