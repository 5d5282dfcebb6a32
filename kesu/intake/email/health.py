"""This channel's health for the admin's channel page (kesu.intake.health): per mailbox, the
last poll, the last error, and today's counts (mail taken in; review and a failed poll count
as errors)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.intake.email.models import InboundMessage, Mailbox
from kesu.intake.health import ChannelHealth

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _start_of_day(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return local - timedelta(
        hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def health(session: Session, now: datetime) -> list[ChannelHealth]:
    """One entry per configured mailbox."""
    since = _start_of_day(now)
    counts: dict[tuple[int, str], int] = {}
    rows = session.execute(
        select(InboundMessage.mailbox_id, InboundMessage.status, func.count())
        .where(InboundMessage.received_at >= since)
        .group_by(InboundMessage.mailbox_id, InboundMessage.status)
    )
    for mailbox_id, status, count in rows:
        counts[(mailbox_id, status)] = int(count)
    out = []
    for box in session.scalars(select(Mailbox).order_by(Mailbox.code)):
        received = sum(n for (mid, _status), n in counts.items() if mid == box.id)
        failed_today = bool(box.last_error and box.last_error_at and box.last_error_at >= since)
        out.append(
            ChannelHealth(
                channel="email",
                source=box.code,
                name=box.name,
                last_seen_at=box.last_poll_at,
                last_error=box.last_error,
                errors_today=counts.get((box.id, "review"), 0) + (1 if failed_today else 0),
                received_today=received,
            )
        )
    return out
