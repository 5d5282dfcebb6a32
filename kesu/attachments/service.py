"""Storing and reading attachments (the rules; no HTTP).

Order of work, so nothing is half-written: every file of an upload is checked first (size,
type by content, image decodable, count); then the blobs (and thumbnails) are written to
storage; then the rows, the timeline event and the audit row go into the caller's
transaction. A rollback leaves at most unreferenced blobs, which ``sweep_orphans`` removes.
Services never commit.
"""

from __future__ import annotations

import os
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import User
from kesu.accounts.service import CUSTOMER, SYSTEM, Actor
from kesu.attachments import thumbs
from kesu.attachments.detect import FileKind, detect
from kesu.attachments.models import Attachment
from kesu.attachments.storage import LocalStorage, Storage, content_key, get_storage
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.enums import Visibility
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.config import Settings, get_settings
from kesu.errors import InvalidInput
from kesu.web.i18n import gettext as _

VisibilityName = Literal["public", "internal"]
Source = Literal["customer", "staff", "email", "social"]
SOURCES = ("customer", "staff", "email", "social")
EVENT_KIND = "attachment_added"
MAX_FILENAME = 200

_configured: Settings | None = None
_storage: Storage | None = None


def configure(settings: Settings, storage: Storage | None = None) -> None:
    """Called by the app factory (and tests): the limits and the store to use."""
    global _configured, _storage
    _configured = settings
    _storage = storage if storage is not None else get_storage(settings)


def current_settings() -> Settings:
    return _configured if _configured is not None else get_settings()


def current_storage() -> Storage:
    """The configured store; without ``configure`` (CLI, worker) the one the environment's
    settings name, looked up each time (so a changed ``KESU_DATA_DIR`` is followed)."""
    return _storage if _storage is not None else get_storage(current_settings())


@dataclass(frozen=True)
class Prepared:
    """A file that passed every check that needs no database: its clean name, kind, bytes
    and thumbnail. Made outside any transaction (decoding an image takes time)."""

    filename: str
    kind: FileKind
    data: bytes
    thumbnail: bytes | None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return content_key(self.data)


def clean_filename(filename: str) -> str:
    """The last path component, without control characters, at most MAX_FILENAME long
    (keeping the extension); "file" when nothing is left."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C"
    ).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, ext = os.path.splitext(name)
        ext = ext[:16]
        name = stem[: MAX_FILENAME - len(ext)] + ext
    return name or "file"


def prepare(filename: str, data: bytes, settings: Settings | None = None) -> Prepared:
    """Checks one file (``InvalidInput`` naming it) and makes its thumbnail."""
    settings = settings or current_settings()
    name = clean_filename(filename)
    if not data:
        raise InvalidInput(_("文件 %(name)s 是空的") % {"name": name}, field="file")
    if len(data) > settings.attachment_max_bytes:
        raise InvalidInput(
            _("文件 %(name)s 太大（%(size)s），每个文件最大 %(max)s")
            % {
                "name": name,
                "size": human_size(len(data)),
                "max": human_size(settings.attachment_max_bytes),
            },
            field="file",
            code="too_large",
        )
    kind = detect(data)
    if kind is None:
        raise InvalidInput(
            _("文件 %(name)s 的类型不允许：只接受图片、PDF、Office 文档、录音和视频片段")
            % {"name": name},
            field="file",
            code="forbidden_type",
        )
    thumbnail = None
    if kind.is_image:
        try:
            made = thumbs.make_thumbnail(data)
        except thumbs.BadImage:
            raise InvalidInput(
                _("图片 %(name)s 无法读取或尺寸过大") % {"name": name},
                field="file",
                code="bad_image",
            ) from None
        if made is None and kind.content_type != "image/heic":
            raise InvalidInput(
                _("图片 %(name)s 无法读取或尺寸过大") % {"name": name},
                field="file",
                code="bad_image",
            )
        thumbnail = made
    return Prepared(name, kind, data, thumbnail)


def check(filename: str, data: bytes) -> None:
    """The checks of ``add`` that need no database (size, type by content, image readable)."""
    prepare(filename, data)


def check_upload_count(count: int, settings: Settings | None = None) -> None:
    settings = settings or current_settings()
    if count > settings.attachments_per_upload:
        raise InvalidInput(
            _("一次最多上传 %(max)d 个文件") % {"max": settings.attachments_per_upload},
            field="file",
            code="too_many",
        )


def count_for(session: Session, complaint: Complaint) -> int:
    if complaint.id is None:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.complaint_id == complaint.id)
        )
        or 0
    )


def add(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    *,
    filename: str,
    data: bytes,
    visibility: VisibilityName,
    source: Source,
    uploaded_by: User | None = None,
    event_id: int | None = None,
) -> Attachment:
    """Attaches one file to ``complaint`` (contract 2). ``InvalidInput`` naming the file for a
    forbidden type, a file over the size limit or a complaint that has all it may have."""
    return add_many(
        session,
        clock,
        complaint,
        [prepare(filename, data)],
        visibility=visibility,
        source=source,
        uploaded_by=uploaded_by,
        event_id=event_id,
    )[0]


def add_many(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    files: Sequence[Prepared],
    *,
    visibility: VisibilityName,
    source: Source,
    uploaded_by: User | None = None,
    event_id: int | None = None,
    event: ComplaintEvent | None = None,
) -> list[Attachment]:
    """Attaches prepared files. Without ``event_id``/``event`` they get one timeline event
    ``attachment_added`` of their own; with one (a note or message just recorded) they are
    shown under it, and an internal event makes them internal whatever was asked."""
    settings = current_settings()
    if not files:
        return []
    if visibility not in ("public", "internal"):
        raise InvalidInput(_("可见性只能是 public 或 internal"), field="visibility")
    if source not in SOURCES:
        raise InvalidInput(_("来源无效"), field="source")
    if event is None and event_id is not None:
        event = session.get(ComplaintEvent, event_id)
        if event is None or (complaint.id is not None and event.complaint_id != complaint.id):
            raise InvalidInput(_("没有这条记录：%(id)s") % {"id": event_id}, field="event_id")
    if event is not None and event.visibility != Visibility.public:
        visibility = "internal"
    if complaint.id is None:
        session.flush()
    existing = count_for(session, complaint)
    if existing + len(files) > settings.attachments_per_complaint:
        raise InvalidInput(
            _("文件 %(name)s：每个投诉最多 %(max)d 个附件（已有 %(count)d 个）")
            % {
                "name": files[0].filename,
                "max": settings.attachments_per_complaint,
                "count": existing,
            },
            field="file",
            code="too_many",
        )
    storage = current_storage()
    now = clock.now()
    rows = []
    for item in files:
        key = storage.put(item.data)  # the blob before the row
        thumb_key = storage.put(item.thumbnail) if item.thumbnail else None
        row = Attachment(
            complaint_id=complaint.id,
            filename=item.filename,
            content_type=item.kind.content_type,
            size=item.size,
            sha256=key,
            thumbnail_sha256=thumb_key,
            visibility=visibility,
            source=source,
            uploaded_by_id=uploaded_by.id if uploaded_by else None,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    summary = [
        {"id": r.id, "filename": r.filename, "size": r.size, "content_type": r.content_type}
        for r in rows
    ]
    actor = Actor.of(uploaded_by) if uploaded_by else (SYSTEM if source == "staff" else CUSTOMER)
    audit: dict[str, Any] = {
        "attachments": [{**s, "sha256": r.sha256} for s, r in zip(summary, rows, strict=True)],
        "visibility": visibility,
        "source": source,
    }
    if event is None:
        names = "、".join(r.filename for r in rows)
        event = timeline.record(
            session,
            clock,
            actor,
            complaint,
            EVENT_KIND,
            body=f"添加附件：{names}",
            public=visibility == "public",
            data={"attachments": summary, "visibility": visibility, "source": source},
            audit=audit,
        )
    else:
        data = dict(event.data or {})
        data["attachments"] = [*data.get("attachments", []), *summary]
        event.data = data
        record_audit(
            session,
            clock,
            actor,
            "complaint.attachment_added",
            "complaint",
            complaint.number,
            audit,
        )
    for row in rows:
        row.event = event
    return rows


def visible_to_customer(attachment: Attachment) -> bool:
    return attachment.visibility == "public"


def list_for(session: Session, complaint: Complaint, *, public_only: bool) -> list[Attachment]:
    query = select(Attachment).where(Attachment.complaint_id == complaint.id)
    if public_only:
        query = query.where(Attachment.visibility == "public")
    return list(session.scalars(query.order_by(Attachment.id)))


def get_for_complaint(
    session: Session, complaint: Complaint, attachment_id: int, *, public_only: bool
) -> Attachment | None:
    row = session.get(Attachment, attachment_id)
    if row is None or row.complaint_id != complaint.id:
        return None
    if public_only and not visible_to_customer(row):
        return None
    return row


def by_event(session: Session, event_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    """Attachments grouped by the timeline event that shows them."""
    if not event_ids:
        return {}
    grouped: dict[int, list[Attachment]] = {}
    rows = session.scalars(
        select(Attachment).where(Attachment.event_id.in_(list(event_ids))).order_by(Attachment.id)
    )
    for row in rows:
        grouped.setdefault(row.event_id or 0, []).append(row)
    return grouped


def sweep_orphans(
    session: Session, *, older_than: timedelta | None = None, storage: Storage | None = None
) -> int:
    """Deletes blobs no row references (original or thumbnail) and older than ``older_than``
    (default one hour, so a blob written by an upload that has not committed yet is kept).
    Returns how many were removed. Local storage only (others list their keys their way).
    The age is the file's modification time against the wall clock (not the injected clock:
    the file system knows no other)."""
    storage = storage if storage is not None else current_storage()
    if not isinstance(storage, LocalStorage):
        return 0
    cutoff = time.time() - (older_than or timedelta(hours=1)).total_seconds()
    referenced = set(
        session.scalars(
            union(
                select(Attachment.sha256),
                select(Attachment.thumbnail_sha256).where(Attachment.thumbnail_sha256.is_not(None)),
            )
        )
    )
    removed = 0
    for key, mtime in list(storage.keys()):
        if key not in referenced and mtime < cutoff:
            storage.delete(key)
            removed += 1
    return removed


def human_size(size: int) -> str:
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"
