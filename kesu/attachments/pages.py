"""What the HTML pages (public form, tracking page, complaint page, entry form) call: read the
form's files before the write lock, attach them, and show them (thumbnails for images)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.models import User
from kesu.attachments import service, web
from kesu.attachments.models import Attachment
from kesu.attachments.service import Prepared, Source, VisibilityName
from kesu.clock import Clock
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.errors import KesuError

ACCEPT = "image/*,application/pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,audio/*,video/*,.amr,.heic"


def limits() -> dict[str, Any]:
    """What the file picker tells the user (and lets them choose)."""
    settings = service.current_settings()
    return {
        "size": service.human_size(settings.attachment_max_bytes),
        "count": settings.attachments_per_upload,
        "accept": ACCEPT,
    }


def try_uploads(form: FormData) -> tuple[list[Prepared], KesuError | None]:
    """The form's files, checked (call before the session's first statement); or the error
    that names the file refused."""
    try:
        return web.form_uploads(form), None
    except KesuError as exc:
        return [], exc


def attach(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    files: Sequence[Prepared],
    *,
    visibility: VisibilityName,
    source: Source,
    uploaded_by: User | None = None,
    event: ComplaintEvent | None = None,
) -> list[Attachment]:
    return service.add_many(
        session,
        clock,
        complaint,
        files,
        visibility=visibility,
        source=source,
        uploaded_by=uploaded_by,
        event=event,
    )


@dataclass
class Shown:
    """A complaint's files as a page shows them: all, and by the event they came with."""

    all: list[dict[str, Any]] = field(default_factory=list)
    by_event: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def _item(row: Attachment, url: str, thumb: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "size": service.human_size(row.size),
        "content_type": row.content_type,
        "visibility": row.visibility,
        "url": url,
        "thumbnail_url": thumb,
    }


def _shown(rows: list[Attachment], urls: Any) -> Shown:
    shown = Shown()
    for row in rows:
        url = urls(row)
        item = _item(row, url, f"{url}/thumbnail" if row.thumbnail_sha256 else None)
        shown.all.append(item)
        if row.event_id is not None:
            shown.by_event.setdefault(row.event_id, []).append(item)
    return shown


def for_customer(session: Session, complaint: Complaint) -> Shown:
    """Public attachments only, with the tracking token's URLs."""
    rows = service.list_for(session, complaint, public_only=True)
    return _shown(rows, lambda r: web.customer_url(complaint.tracking_token, r))


def for_staff(session: Session, complaint: Complaint) -> Shown:
    return _shown(service.list_for(session, complaint, public_only=False), web.staff_url)
