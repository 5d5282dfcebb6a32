"""What the routes share: reading uploaded files, the JSON shape, serving a blob safely."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import UploadFile
from fastapi.responses import FileResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload

from kesu.attachments import service
from kesu.attachments.models import Attachment
from kesu.attachments.service import Prepared
from kesu.attachments.storage import LocalStorage
from kesu.config import Settings
from kesu.errors import InvalidInput, NotFound
from kesu.web.i18n import gettext as _

FORM_FIELD = "files"


def read_uploads(
    uploads: Sequence[UploadFile | StarletteUpload], settings: Settings | None = None
) -> list[Prepared]:
    """Checks every uploaded file (count, size, type by content, image readable) before any
    is stored; an empty file input (no name, no bytes) is not a file. ``InvalidInput`` names
    the first file that fails."""
    settings = settings or service.current_settings()
    chosen = [u for u in uploads if u.filename or (u.size or 0) > 0]
    service.check_upload_count(len(chosen), settings)
    prepared = []
    for upload in chosen:
        upload.file.seek(0)
        data = upload.file.read(settings.attachment_max_bytes + 1)
        prepared.append(service.prepare(upload.filename or "", data, settings))
    return prepared


def form_uploads(form: FormData, field: str = FORM_FIELD) -> list[Prepared]:
    return read_uploads([v for v in form.getlist(field) if isinstance(v, StarletteUpload)])


def staff_url(row: Attachment) -> str:
    return f"/api/v1/complaints/{row.complaint_id}/attachments/{row.id}"


def customer_url(token: str, row: Attachment) -> str:
    return f"/t/{token}/files/{row.id}"


def out(row: Attachment) -> dict[str, Any]:
    url = staff_url(row)
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "visibility": row.visibility,
        "source": row.source,
        "url": url,
        "thumbnail_url": f"{url}/thumbnail" if row.thumbnail_sha256 else None,
        "created_at": row.created_at,
    }


def out_for(session: Session, complaint_id: int) -> list[dict[str, Any]]:
    return out_for_many(session, [complaint_id]).get(complaint_id, [])


def out_for_many(session: Session, complaint_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The attachments of many complaints in one query (a list page)."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    if not complaint_ids:
        return grouped
    rows = session.scalars(
        select(Attachment)
        .where(Attachment.complaint_id.in_(list(complaint_ids)))
        .order_by(Attachment.complaint_id, Attachment.id)
    )
    for row in rows:
        grouped.setdefault(row.complaint_id, []).append(out(row))
    return grouped


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266 with RFC 5987 ``filename*`` (UTF-8) and a plain-ASCII fallback."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in filename
    )
    return f"{disposition}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(filename)}"


_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}


def _blob(key: str, media_type: str, headers: dict[str, str]) -> Response:
    storage = service.current_storage()
    if isinstance(storage, LocalStorage):
        path = storage.path(key)
        if not path.is_file():
            raise NotFound(_("文件已不存在"), field="id")
        return FileResponse(path, media_type=media_type, headers=headers)
    try:
        with storage.open(key) as handle:
            return Response(handle.read(), media_type=media_type, headers=headers)
    except FileNotFoundError:
        raise NotFound(_("文件已不存在"), field="id") from None


def download(row: Attachment) -> Response:
    """The file as a download, never rendered by the browser: ``attachment``, ``nosniff``, the
    type we detected (an allow-listed one), and a sandboxing CSP in case it is opened."""
    headers = {
        **_HEADERS,
        "Content-Disposition": content_disposition(row.filename),
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return _blob(row.sha256, row.content_type, headers)


def thumbnail(row: Attachment) -> Response:
    """The thumbnail we made (always JPEG), inline."""
    if not row.thumbnail_sha256:
        raise NotFound(_("这个附件没有缩略图"), field="id")
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=86400",
        "Content-Disposition": content_disposition(f"thumb-{row.id}.jpg", "inline"),
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return _blob(row.thumbnail_sha256, "image/jpeg", headers)


def not_found(attachment_id: int) -> NotFound:
    return NotFound(_("没有这个附件：%(id)s") % {"id": attachment_id}, field="id")


def refuse_empty() -> InvalidInput:
    return InvalidInput(_("请选择要上传的文件"), field="file")
