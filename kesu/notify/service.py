"""Enqueueing notifications: the in-app bell rows and outbox rows, in the caller's transaction.

Nothing here does I/O. ``notify`` writes one ``notifications`` row per user who wants in-app
notices, and one ``outbox`` row per push (email, SMS, group robot, webhook); ``kesu worker``
delivers the outbox. Non-urgent pushes outside business hours wait for the next business hour.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.bulk import insert_rows
from kesu.clock import Clock
from kesu.complaints.models import Complaint
from kesu.config import get_settings
from kesu.notify import texts
from kesu.notify.models import Notification, NotifyEndpoint, NotifyPreference, OutboxMessage
from kesu.sla.calendar import BusinessCalendar
from kesu.taxonomy import cache as config_cache
from kesu.web import public_url

USER_CHANNELS = ("in_app", "email", "sms")
ENDPOINT_KINDS = ("dingtalk", "feishu", "wecom", "webhook", "sms")
DEFAULT_CHANNELS = ("in_app", "email")


@dataclass(frozen=True)
class EndpointSpec:
    id: int
    code: str
    kind: str
    events: frozenset[str]
    teams: frozenset[str]
    locale: str


@dataclass
class Notice:
    """One thing to tell people about. ``key`` identifies the event: the outbox dedup keys are
    derived from it, so enqueueing the same event twice cannot send it twice."""

    event: str
    complaint: Complaint | None
    key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False
    quiet_calendar: BusinessCalendar | None = None
    endpoints: bool = True  # also post to the matching group robots and webhooks
    # Machine-readable facts for the endpoints (the webhook body's ``data``, beside "complaint").
    payload: dict[str, Any] = field(default_factory=dict)


def endpoints(session: Session) -> tuple[EndpointSpec, ...]:
    def load() -> tuple[EndpointSpec, ...]:
        rows = session.scalars(select(NotifyEndpoint).where(NotifyEndpoint.is_active))
        return tuple(
            EndpointSpec(
                r.id, r.code, r.kind, frozenset(r.events), frozenset(r.teams), r.locale or "zh_CN"
            )
            for r in rows
        )

    return config_cache.cached(session, "notify_endpoints", load)


_PREFERENCES = "kesu_notify_preferences"


def channels_of(session: Session, users: list[User]) -> dict[int, tuple[str, ...]]:
    """Each user's channels. The (small) preferences table is read once per unit of work, so
    a worker pass over a thousand alerts asks once."""
    stored = session.info.get(_PREFERENCES)
    if stored is None:
        stored = {p.user_id: tuple(p.channels) for p in session.scalars(select(NotifyPreference))}
        session.info[_PREFERENCES] = stored
    return {u.id: stored.get(u.id, DEFAULT_CHANNELS) for u in users}


def available_at(notice: Notice, now: datetime) -> datetime:
    """Urgent notices go at once; others wait for the quiet calendar's business hours."""
    quiet = notice.quiet_calendar
    if notice.urgent or quiet is None or quiet.is_business_time(now):
        return now
    return quiet.next_business_start(now)


_BATCH = "kesu_notify_batch"


@dataclass
class _Rows:
    notifications: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    def write(self, session: Session) -> None:
        """A few multi-row INSERTs; an outbox row whose dedup key exists is skipped."""
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        insert_rows(session, cast(Table, Notification.__table__), self.notifications)
        if self.outbox:
            stmt = dialect.insert(cast(Table, OutboxMessage.__table__)).on_conflict_do_nothing(
                index_elements=["dedup_key"]
            )
            session.execute(stmt, self.outbox)
        self.notifications.clear()
        self.outbox.clear()


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Inside, ``notify`` collects its rows; they are written on leaving, all together (the
    worker's pass over a thousand alerts writes them in a handful of statements)."""
    rows = _Rows()
    session.info[_BATCH] = rows
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)
    rows.write(session)


def notify(session: Session, clock: Clock, notice: Notice, users: Iterable[User]) -> int:
    """Writes the in-app rows and outbox rows for ``notice``; returns how many."""
    now = clock.now()
    people = list({u.id: u for u in users if u.is_active}.values())
    complaint = notice.complaint
    if complaint is not None and complaint.id is None:
        session.flush()  # the rows below reference the complaint by id
    settings = get_settings()
    context = (
        texts.complaint_context(complaint, public_url.base_url(session, settings), notice.extra)
        if complaint is not None
        else {
            loc: {k: v.get(loc, "") if isinstance(v, dict) else v for k, v in notice.extra.items()}
            for loc in texts.LOCALES
        }
    )
    key = notice.key or f"{notice.event}:{secrets.token_hex(8)}"
    when = available_at(notice, now)
    complaint_id = complaint.id if complaint is not None else None
    batch = session.info.get(_BATCH)
    rows = batch if isinstance(batch, _Rows) else _Rows()
    made = len(rows.notifications) + len(rows.outbox)
    wanted = channels_of(session, people) if people else {}
    gateway = next((e for e in endpoints(session) if e.kind == "sms"), None)

    number = complaint.number if complaint is not None else None

    def push(dedup: str, channel: str, title: str, body: str, **where: Any) -> None:
        rows.outbox.append(
            {
                "dedup_key": dedup[:255],
                "channel": channel,
                "endpoint_id": where.get("endpoint_id"),
                "user_id": where.get("user_id"),
                "complaint_id": complaint_id,
                "recipient": where.get("recipient", ""),
                "event": notice.event,
                "title": title,
                "body": body,
                "data": {"complaint": number, **where.get("data", {})},
                "status": "pending",
                "attempts": 0,
                "available_at": when,
                "last_error": "",
                "created_at": now,
                "delivered_at": None,
            }
        )

    for user in people:
        title, body = texts.render(notice.event, user.locale, context)
        channels = wanted[user.id]
        if "in_app" in channels:
            rows.notifications.append(
                {
                    "user_id": user.id,
                    "complaint_id": complaint_id,
                    "event": notice.event,
                    "title": title,
                    "body": body,
                    "link": f"/complaints/{complaint.number}" if complaint is not None else "",
                    "created_at": now,
                    "read_at": None,
                }
            )
        addresses: list[tuple[str, str | None, int | None]] = [("email", user.email, None)]
        if gateway is not None:
            addresses.append(("sms", user.phone, gateway.id))
        for channel, address, endpoint_id in addresses:
            if channel in channels and address:
                push(
                    f"{key}:{channel}:u{user.id}",
                    channel,
                    title,
                    body,
                    user_id=user.id,
                    recipient=address,
                    endpoint_id=endpoint_id,
                )
    if notice.endpoints:
        team = complaint.team.code if complaint is not None and complaint.team else None
        for spec in endpoints(session):
            if spec.kind != "sms" and _wants(spec, notice.event, team):
                title, body = texts.render(notice.event, spec.locale, context)
                push(
                    f"{key}:ep{spec.id}",
                    spec.kind,
                    title,
                    body,
                    endpoint_id=spec.id,
                    data=notice.payload,
                )
    made = len(rows.notifications) + len(rows.outbox) - made
    if rows is not batch:
        rows.write(session)
    return made


def _wants(spec: EndpointSpec, event: str, team: str | None) -> bool:
    if spec.events and event not in spec.events:
        return False
    return not spec.teams or (team is not None and team in spec.teams)
