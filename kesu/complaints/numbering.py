"""Complaint numbers like ``TS20261122-000001``: a per-day counter, atomic on both databases."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kesu.complaints.models import ComplaintSequence

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PREFIX = "TS"


def next_number(session: Session, at: datetime) -> str:
    day = at.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    stmt = (
        dialect.insert(ComplaintSequence)
        .values(day=day, value=1)
        .on_conflict_do_update(index_elements=["day"], set_={"value": ComplaintSequence.value + 1})
        .returning(ComplaintSequence.value)
    )
    value = session.execute(stmt).scalar_one()
    return f"{PREFIX}{day}-{value:06d}"
