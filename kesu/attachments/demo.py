"""Demo attachments: a few complaints get a customer's photo (a small PNG drawn by Pillow)
and one an internal note's file, through the real service (blobs, thumbnails, timeline)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from sqlalchemy import select

from kesu.attachments import service
from kesu.clock import Clock
from kesu.complaints.models import Complaint
from kesu.db import Database

COLORS = ("#d9822b", "#2b6cb0", "#2f855a", "#b83280")


def photo(index: int) -> bytes:
    """A 640×480 'photo' of a broken box: a coloured panel with a crack across it."""
    image = Image.new("RGB", (640, 480), "#f3f1ec")
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 60, 560, 420), fill=COLORS[index % len(COLORS)], outline="#333", width=6)
    draw.line((120, 100, 300, 260, 260, 300, 520, 400), fill="#111", width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def add_demo_attachments(db: Database, clock: Clock, count: int = 4) -> int:
    """Attaches a photo to the ``count`` newest open complaints; returns how many files."""
    made = 0
    with db.session() as session:
        complaints = session.scalars(
            select(Complaint).where(Complaint.is_open).order_by(Complaint.id.desc()).limit(count)
        ).all()
        for index, complaint in enumerate(complaints):
            service.add(
                session,
                clock,
                complaint,
                filename=f"现场照片-{index + 1}.png",
                data=photo(index),
                visibility="public",
                source="customer",
            )
            made += 1
        if complaints:
            service.add(
                session,
                clock,
                complaints[0],
                filename="仓库核对记录.png",
                data=photo(len(COLORS) + 1),
                visibility="internal",
                source="staff",
            )
            made += 1
        session.commit()
    return made
