"""Tables and indexes behind repeat detection (重复投诉) and the channel health page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from kesu.complaints.models import Complaint
from kesu.db import Base


class RepeatSettings(Base):
    """The admin's repeat-detection settings: one row (id 1); absent means the defaults
    (``KESU_REPEAT_WINDOW_DAYS`` and ``repeats.DEFAULT_THRESHOLD``)."""

    __tablename__ = "repeat_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_days: Mapped[int]
    # Cosine similarity of the two texts (jieba words + character bigrams) at or above which a
    # complaint counts as the same matter.
    threshold: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# Repeat detection reads one customer's complaints of the last window days: a range scan.
Index("ix_complaints_customer_received", Complaint.customer_id, Complaint.received_at)
# Channel health counts what each channel delivered today: a range scan per channel.
Index("ix_complaints_channel_created", Complaint.channel, Complaint.created_at)
