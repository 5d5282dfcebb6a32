"""Delivering the outbox: claim due rows, send them outside any transaction, record outcomes.

1. Claim (one short transaction): ``UPDATE outbox SET status='sending', attempts=attempts+1,
   available_at=now+lease WHERE id IN (due rows … FOR UPDATE SKIP LOCKED) RETURNING …``. A
   claimed row is invisible to other workers until its lease runs out.
2. Send each row (HTTP, SMTP) with no transaction open, so a slow robot never holds a lock.
3. Record each outcome with a compare-and-set ``UPDATE … WHERE status='sending' AND
   attempts=<ours>``: if our lease ran out and another worker took the row over, we do not
   overwrite its result. Retryable failures wait ``backoff`` (30 s, 1 min, 2 min … capped)
   and are marked ``failed`` after ``KESU_NOTIFY_MAX_ATTEMPTS``; admins see failed rows and
   may retry them.

Delivery is at least once: a worker that dies after sending but before recording lets the row
be sent again after the lease. Each row carries a stable delivery id (the webhook
``X-Kesu-Delivery`` header, the email ``Message-ID``) so receivers can drop the repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from kesu.clock import Clock, SystemClock
from kesu.config import Settings
from kesu.db import Database
from kesu.notify import email
from kesu.notify.channels import DeliveryResult, DeliveryStatus, Message, dispatch
from kesu.notify.models import NotifyEndpoint, OutboxMessage


@dataclass(frozen=True)
class Job:
    id: int
    channel: str
    recipient: str
    event: str
    title: str
    body: str
    data: dict[str, Any]
    attempts: int
    endpoint: dict[str, Any] | None  # {"kind", "config", "is_active"} of its endpoint


@dataclass
class DeliveryStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, settings: Settings, retry_after: float | None = None) -> timedelta:
    """30 s after the first failure, doubling each time, capped; longer if the server asks."""
    seconds = min(
        settings.notify_backoff_seconds * 2 ** max(0, attempts - 1),
        settings.notify_backoff_max_seconds,
    )
    return timedelta(seconds=max(seconds, retry_after or 0))


def claim(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Job]:
    table = cast(Table, OutboxMessage.__table__)
    due = (
        select(table.c.id)
        .where(table.c.status.in_(("pending", "sending")), table.c.available_at <= now)
        .order_by(table.c.available_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(table)
        .where(
            table.c.id.in_(due.scalar_subquery()),
            table.c.status.in_(("pending", "sending")),
            table.c.available_at <= now,
        )
        .values(status="sending", attempts=table.c.attempts + 1, available_at=now + lease)
        .returning(*table.c)
    )
    rows = list(session.execute(stmt))
    endpoint_ids = {r.endpoint_id for r in rows if r.endpoint_id is not None}
    endpoints = {
        e.id: {"kind": e.kind, "config": dict(e.config), "is_active": e.is_active}
        for e in session.scalars(select(NotifyEndpoint).where(NotifyEndpoint.id.in_(endpoint_ids)))
    }
    return [
        Job(
            r.id,
            r.channel,
            r.recipient,
            r.event,
            r.title,
            r.body,
            dict(r.data or {}),
            r.attempts,
            endpoints.get(r.endpoint_id) if r.endpoint_id is not None else None,
        )
        for r in sorted(rows, key=lambda r: r.id)
    ]


def send(job: Job, settings: Settings, http: httpx.Client, wall: datetime) -> DeliveryResult:
    """One attempt; never raises. ``wall`` is the real time (robots check signed timestamps)."""
    try:
        if job.channel == "email":
            return email.send(settings, _mail(job, settings))
        if job.endpoint is None or not job.endpoint["is_active"]:
            return DeliveryResult(DeliveryStatus.FAILED, detail="endpoint removed or disabled")
        message = Message(
            title=job.title,
            text=job.body,
            event=job.event,
            delivery_id=str(job.id),
            to=job.recipient,
            data=job.data,
        )
        return dispatch(job.endpoint["kind"], job.endpoint["config"], message, wall, http)
    except Exception as exc:  # a bug in one channel must not stop the others
        return DeliveryResult(DeliveryStatus.RETRYABLE, detail=f"error: {exc!r}"[:300])


def _mail(job: Job, settings: Settings) -> email.EmailMessage:
    number = job.data.get("complaint")
    if not (job.data.get("customer") and isinstance(number, str) and number):
        files = job.data.get("attachments")
        return email.build(
            settings,
            job.recipient,
            job.title,
            job.body,
            str(job.id),
            files if isinstance(files, list) else (),
        )
    previous = job.data.get("in_reply_to")
    in_reply_to = (
        email.customer_message_id(settings, number, str(previous))
        if isinstance(previous, int)
        else previous  # the customer's own mail (kesu.notify.customer._previous_mail)
        if isinstance(previous, str) and previous
        else None
    )
    return email.build_customer(
        settings, job.recipient, job.title, job.body, str(job.id), number, in_reply_to
    )


def record(session: Session, job: Job, result: DeliveryResult, now: datetime, s: Settings) -> str:
    """Stores the outcome (compare-and-set on our claim); returns the new status."""
    table = cast(Table, OutboxMessage.__table__)
    values: dict[str, Any]
    if result.ok:
        values = {"status": "delivered", "delivered_at": now, "last_error": ""}
    elif result.retryable and job.attempts < s.notify_max_attempts:
        delay = backoff(job.attempts, s, result.retry_after)
        values = {"status": "pending", "available_at": now + delay, "last_error": _error(result)}
    else:
        values = {"status": "failed", "last_error": _error(result)}
    session.execute(
        update(table)
        .where(table.c.id == job.id, table.c.status == "sending", table.c.attempts == job.attempts)
        .values(**values)
    )
    return str(values["status"])


def _error(result: DeliveryResult) -> str:
    code = f"HTTP {result.http_status}: " if result.http_status else ""
    return (code + result.detail)[:1000]


def deliver_due(
    db: Database,
    clock: Clock,
    settings: Settings,
    http: httpx.Client,
    limit: int = 50,
    wall: Clock | None = None,
) -> DeliveryStats:
    """One batch: claim, send, record."""
    stats = DeliveryStats()
    lease = timedelta(seconds=settings.notify_lease_seconds)
    with db.session() as session:
        jobs = claim(session, clock.now(), limit, lease)
    stats.claimed = len(jobs)
    outcomes = [(job, send(job, settings, http, (wall or SystemClock()).now())) for job in jobs]
    if not outcomes:
        return stats
    with db.session() as session:
        now = clock.now()
        for job, result in outcomes:
            status = record(session, job, result, now, settings)
            if status == "delivered":
                stats.delivered += 1
            elif status == "pending":
                stats.retried += 1
            else:
                stats.failed += 1
                stats.errors.append(f"outbox {job.id}: {result.detail[:100]}")
    return stats
