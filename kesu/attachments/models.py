"""Attachment tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kesu.complaints.models import ComplaintEvent
from kesu.db import Base


class Attachment(Base):
    """A file attached to a complaint. The bytes are a blob in storage, keyed by ``sha256``;
    the row is written only after the blob (an interrupted upload leaves at most an
    unreferenced blob, which the sweep removes)."""

    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_complaint_id_id", "complaint_id", "id"),
        Index("ix_attachments_sha256", "sha256"),
        Index("ix_attachments_thumbnail_sha256", "thumbnail_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    # The timeline event that shows it: its own ``attachment_added`` event, or the note or
    # message it came with.
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaint_events.id", ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    # The type we detected from the content (never the client's claim).
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # A JPEG we made for images (no EXIF), by its own hash; None for other types.
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    source: Mapped[str] = mapped_column(String(16))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    event: Mapped[ComplaintEvent | None] = relationship(lazy="select")
