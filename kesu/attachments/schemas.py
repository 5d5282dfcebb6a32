"""The attachment as the API shows it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    visibility: str
    source: str
    # Download (``Content-Disposition: attachment``) and the thumbnail (images only), for
    # staff in scope; relative to the server.
    url: str
    thumbnail_url: str | None
    created_at: datetime
