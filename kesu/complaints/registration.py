"""Registering a complaint: numbering, the customer, repeat detection, idempotent retries.

Works inside the caller's transaction and never commits (see ``service.py``). Every write
goes out in one flush at commit, so a registration costs one round of INSERTs.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session

from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import events, repeats, timeline
from kesu.complaints.enums import EventKind
from kesu.complaints.models import Complaint, Customer, IdempotencyKey, Stage
from kesu.complaints.numbering import next_number
from kesu.complaints.repeats import Match
from kesu.complaints.schemas import ComplaintCreate, CustomerIn
from kesu.config import get_settings
from kesu.db import Database
from kesu.errors import Conflict, InvalidInput
from kesu.taxonomy.enums import SEVERITY_RANK, Severity
from kesu.taxonomy.service import active_stages, resolve_category, validate_custom_fields
from kesu.web.i18n import gettext as _


def request_fingerprint(payload: ComplaintCreate) -> str:
    raw = json.dumps(payload.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def prepare(db: Database, data: ComplaintCreate) -> dict[str, Any]:
    """The listeners' work on the text that can happen before the write transaction (see
    ``events.Preparer``); pass the result to ``create_complaint(prepared=…)``."""
    return events.prepare(db, data.title or _title_from(data.content), data.content)


def create_complaint(
    session: Session,
    clock: Clock,
    actor: Actor,
    data: ComplaintCreate,
    idempotency_key: str | None = None,
    idempotency_scope: str = "public",
    prepared: dict[str, Any] | None = None,
) -> tuple[Complaint, bool]:
    """Registers a complaint. Returns ``(complaint, replayed)``; a retried key replays.

    ``prepared`` (from ``prepare``) is seen by this complaint's listeners only: several
    creates may share one session (group commit), so it is set and removed around each."""
    session.info[events.PREPARED] = prepared or {}
    try:
        return _create(session, clock, actor, data, idempotency_key, idempotency_scope)
    finally:
        session.info.pop(events.PREPARED, None)


def _create(
    session: Session,
    clock: Clock,
    actor: Actor,
    data: ComplaintCreate,
    idempotency_key: str | None,
    idempotency_scope: str,
) -> tuple[Complaint, bool]:
    fingerprint = request_fingerprint(data) if idempotency_key else ""
    if idempotency_key:
        previous = _replay(session, idempotency_scope, idempotency_key, fingerprint)
        if previous is not None:
            return previous, True

    now = clock.now()
    received_at = data.received_at or now
    if received_at.tzinfo is None:
        raise InvalidInput(_("受理时间需要带时区"), field="received_at")
    if received_at > now + timedelta(minutes=5):
        raise InvalidInput(_("受理时间不能晚于现在"), field="received_at")
    max_age = get_settings().received_at_max_age_days
    if received_at < now - timedelta(days=max_age):
        # Also keeps the SLA calendar's walk from received_at to now short (issue 8).
        raise InvalidInput(
            _("受理时间不能早于 %(days)d 天前") % {"days": max_age}, field="received_at"
        )
    category = resolve_category(session, data.category) if data.category else None
    custom = validate_custom_fields(session, data.custom_fields)
    first = _first_stage(session)
    severity = data.severity or Severity(
        category.default_severity if category and category.default_severity else "minor"
    )
    number = next_number(session, now)
    customer = find_or_create_customer(session, clock, data.customer)
    # Everything below is written by one flush at commit: customer, complaint, event, audit.
    complaint = Complaint(
        number=number,
        title=data.title or _title_from(data.content),
        content=data.content,
        channel=data.channel,
        locale=data.locale or "zh_CN",
        customer=customer,
        contact_name=data.customer.name,
        contact_phone=data.customer.phone,
        contact_email=data.customer.email,
        order_no=data.order_no or None,
        product=data.product or None,
        order_value=(
            data.order_value.quantize(Decimal("0.01")) if data.order_value is not None else None
        ),
        remedy=data.remedy,
        category=category,
        severity=severity,
        priority=data.priority or priority_for(severity, customer.tier),
        stage=first.code,
        stage_entered_at=now,
        is_open=True,
        due_at=None,  # the SLA clocks set it on the "created" event (kesu.sla.service.sync)
        tags=data.tags,
        custom_fields=custom,
        outputs={},
        tracking_token=secrets.token_urlsafe(24),
        received_at=received_at,
        created_at=now,
        updated_at=now,
        version=1,
        reopen_count=0,
    )
    # 重复投诉 (kesu.complaints.repeats): linked before the "created" event, so the routing
    # rules' ``repeat`` condition sees it.
    match = repeats.find_earlier(session, complaint, data.customer)
    if match is not None:
        complaint.repeat_of = match.earlier
    session.add(complaint)
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        EventKind.created,
        public=True,
        body="投诉已受理，受理编号 " + complaint.number,
        data={"channel": complaint.channel, "number": complaint.number},
        audit={"number": complaint.number, "channel": complaint.channel},
    )
    if match is not None:
        _link_repeat(session, clock, complaint, match)
    if idempotency_key:
        _remember(session, idempotency_scope, idempotency_key, fingerprint, complaint, now)
    return complaint, False


def _replay(session: Session, scope: str, key: str, fingerprint: str) -> Complaint | None:
    row = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise InvalidInput(
            _("Idempotency-Key 已用于另一个不同的请求"),
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return session.get(Complaint, row.complaint_id)


def _remember(
    session: Session, scope: str, key: str, fingerprint: str, complaint: Complaint, now: Any
) -> None:
    # A concurrent request with the same key makes this INSERT (PostgreSQL) or the commit
    # fail on the unique key; the caller then replays (see ``replay_after_conflict``). A plain
    # INSERT after the flush that gives the complaint its id: no ORM object for this row.
    session.flush()
    session.execute(
        insert(cast(Table, IdempotencyKey.__table__)),
        {
            "scope": scope,
            "key": key,
            "request_hash": fingerprint,
            "complaint_id": complaint.id,
            "created_at": now,
        },
    )


def replay_after_conflict(
    session: Session, scope: str, key: str, data: ComplaintCreate
) -> Complaint | None:
    """After a failed commit: the complaint a concurrent request with this key created."""
    return _replay(session, scope, key, request_fingerprint(data))


def _first_stage(session: Session) -> Stage:
    stages = active_stages(session)
    if not stages:
        raise Conflict(_("没有配置处理阶段，请运行 kesu db upgrade"), code="no_stages")
    return stages[0]


def _title_from(content: str) -> str:
    line = " ".join(content.split())
    return line[:40] + ("…" if len(line) > 40 else "")


def priority_for(severity: str, tier: str) -> int:
    """Priority 1 (urgent) – 4 (low): serious cases and VIP customers go first."""
    base = {0: 3, 1: 3, 2: 2, 3: 1}[SEVERITY_RANK[Severity(severity)]]
    if tier in ("vip", "key"):
        base = max(1, base - 1)
    return base


def find_or_create_customer(session: Session, clock: Clock, data: CustomerIn) -> Customer:
    """Links to the customer with this external id, phone or email, or creates one.

    Never changes an existing customer: anyone can type someone else's phone into a public
    form, so what this complaint says about the customer lives on the complaint (its
    ``contact_*`` snapshot) and only staff edit the customer record (``kesu.customers``)."""
    keys = [
        (Customer.external_id, data.external_id),
        (Customer.phone, data.phone),
        (Customer.email, data.email),
    ]
    wanted = [column == value for column, value in keys if value]
    candidates = list(
        session.scalars(select(Customer).where(or_(*wanted)).order_by(Customer.id).limit(10))
    )
    for column, value in keys:  # the strongest identifier wins
        customer = next((c for c in candidates if value and getattr(c, column.key) == value), None)
        if customer:
            return customer
    now = clock.now()
    customer = Customer(
        name=data.name,
        phone=data.phone,
        email=data.email,
        tier=data.tier,
        region=data.region,
        external_id=data.external_id,
        created_at=now,
        updated_at=now,
    )
    session.add(customer)  # inserted by the caller's flush
    return customer


def _link_repeat(session: Session, clock: Clock, complaint: Complaint, match: Match) -> None:
    earlier = match.earlier
    data: dict[str, Any] = {"repeat_of": earlier.number, "reason": match.reason}
    if match.similarity is not None:
        data["similarity"] = match.similarity
    timeline.record(
        session,
        clock,
        Actor("system", None, "系统"),
        complaint,
        EventKind.repeat_detected,
        body=f"重复投诉，关联 {earlier.number}",
        data=data,
        audit=data,
    )
