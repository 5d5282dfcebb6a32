"""Channel health: per channel, the last poll or delivery, errors, counts today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.clock import as_utc
from kesu.complaints.enums import CHANNEL_LABELS, Channel
from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.notify.models import OutboxMessage

FAILURE_CAP = 10_000
CUSTOMER_EVENTS = "customer."  # kesu.notify.customer.PREFIX


@dataclass(frozen=True)
class ChannelHealth:
    """One source of complaints (a mailbox, a social source, the web form …), as admins see it."""

    channel: str  # a channel code (kesu.complaints.enums.Channel)
    source: str  # the mailbox or source code; "" for the channel as a whole
    name: str
    last_seen_at: datetime | None  # last poll (mail) or last delivery (webhook)
    last_error: str
    errors_today: int
    received_today: int


# -- collecting it (the admin's /admin/channels and GET /api/v1/channels/health) ---------------


def day_start(now: datetime) -> datetime:
    """Midnight of ``now``'s day in Asia/Shanghai (the day complaint numbers count), in UTC."""
    local = now.astimezone(LOCAL_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def channel_totals(session: Session, now: datetime) -> list[ChannelHealth]:
    """Every channel that ever delivered a complaint: the last one's arrival and today's
    count. Two range reads on ``(channel, created_at)`` per channel code, whatever the size
    of the table (``created_at`` is when kesu registered it; ``received_at`` may be earlier)."""
    start = day_start(now)
    rows = []
    for code in Channel:
        last = session.scalar(
            select(func.max(Complaint.created_at)).where(Complaint.channel == code.value)
        )
        if last is None:
            continue
        today = session.scalar(
            select(func.count())
            .select_from(Complaint)
            .where(Complaint.channel == code.value, Complaint.created_at >= start)
        )
        rows.append(
            ChannelHealth(
                channel=code.value,
                source="",
                name=CHANNEL_LABELS[code],
                last_seen_at=as_utc(last),
                last_error="",
                errors_today=0,
                received_today=int(today or 0),
            )
        )
    return rows


def customer_outbox_failures(session: Session, now: datetime) -> dict[str, dict[str, int]]:
    """Messages to customers (outbox rows whose event is ``customer.…``, kesu.notify.customer;
    an SMS one carries the gateway's endpoint) that gave up, by outgoing channel: all of them
    and today's. Read on the partial index of failed rows, the newest ``FAILURE_CAP``."""
    start = day_start(now)
    failed = (
        select(OutboxMessage.channel, OutboxMessage.created_at)
        .where(
            OutboxMessage.status == "failed",
            OutboxMessage.user_id.is_(None),
            OutboxMessage.event.startswith(CUSTOMER_EVENTS, autoescape=True),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(FAILURE_CAP)
        .subquery()
    )
    result: dict[str, dict[str, int]] = {}
    for channel, created_at in session.execute(select(failed.c.channel, failed.c.created_at)):
        counts = result.setdefault(channel, {"failed": 0, "failed_today": 0})
        counts["failed"] += 1
        if as_utc(created_at) >= start:
            counts["failed_today"] += 1
    return result


def collect(session: Session, now: datetime) -> list[ChannelHealth]:
    """The channels as a whole, then each configured mailbox and social source (their own
    ``health`` functions, filled by the email and social intake)."""
    from kesu.intake.email import health as email_health
    from kesu.intake.social import health as social_health

    return [
        *channel_totals(session, now),
        *email_health.health(session, now),
        *social_health.health(session, now),
    ]


def health_out(entry: ChannelHealth) -> dict[str, Any]:
    return {
        "channel": entry.channel,
        "source": entry.source,
        "name": entry.name,
        "last_seen_at": entry.last_seen_at,
        "last_error": entry.last_error,
        "errors_today": entry.errors_today,
        "received_today": entry.received_today,
    }
