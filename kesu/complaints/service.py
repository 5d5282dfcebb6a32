"""The rules for creating and changing complaints. Every change goes through here.

Each function works inside the caller's transaction: it changes the rows, writes the timeline
event and the audit record, and never commits. Stage moves live in ``lifecycle.py``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.enums import EventKind, StageCategory
from kesu.complaints.models import Complaint, Customer, IdempotencyKey, Stage
from kesu.complaints.numbering import next_number
from kesu.complaints.schemas import ComplaintCreate, ComplaintUpdate, CustomerIn
from kesu.errors import Conflict, Forbidden, InvalidInput, StaleVersion
from kesu.taxonomy.enums import SEVERITY_RANK, Severity
from kesu.taxonomy.service import active_stages, resolve_category, validate_custom_fields

REPEAT_WINDOW = timedelta(days=30)


def check_version(complaint: Complaint, version: int | None) -> None:
    if version is not None and version != complaint.version:
        raise StaleVersion(
            f"投诉已被他人修改 (version {version} is stale; current is {complaint.version}); "
            "请刷新后重试",
            field="version",
        )


def request_fingerprint(payload: ComplaintCreate) -> str:
    raw = json.dumps(payload.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def create_complaint(
    session: Session,
    clock: Clock,
    actor: Actor,
    data: ComplaintCreate,
    idempotency_key: str | None = None,
    idempotency_scope: str = "public",
) -> tuple[Complaint, bool]:
    """Registers a complaint. Returns ``(complaint, replayed)``; a retried key replays."""
    fingerprint = request_fingerprint(data) if idempotency_key else ""
    if idempotency_key:
        previous = _replay(session, idempotency_scope, idempotency_key, fingerprint)
        if previous is not None:
            return previous, True

    now = clock.now()
    received_at = data.received_at or now
    if received_at.tzinfo is None:
        raise InvalidInput(
            "received_at 需要时区 (received_at needs a time zone)", field="received_at"
        )
    if received_at > now + timedelta(minutes=5):
        raise InvalidInput(
            "received_at 不能晚于现在 (received_at is in the future)", field="received_at"
        )
    category = resolve_category(session, data.category) if data.category else None
    custom = validate_custom_fields(session, data.custom_fields)
    first = _first_stage(session)
    severity = data.severity or Severity(
        category.default_severity if category and category.default_severity else "minor"
    )
    number = next_number(session, now)
    customer = upsert_customer(session, clock, data.customer)
    # Everything below is written by one flush at commit: customer, complaint, event, audit.
    complaint = Complaint(
        number=number,
        title=data.title or _title_from(data.content),
        content=data.content,
        channel=data.channel,
        customer=customer,
        order_no=data.order_no or None,
        product=data.product or None,
        remedy=data.remedy,
        category=category,
        severity=severity,
        priority=data.priority or _priority_for(severity, customer.tier),
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
    earlier = _earlier_on_same_matter(session, complaint) if customer.id is not None else None
    session.add(complaint)
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        EventKind.created,
        public=True,
        body="投诉已受理，受理编号 " + complaint.number,
        data={"channel": complaint.channel},
        audit={"number": complaint.number, "channel": complaint.channel},
    )
    if earlier is not None:
        _link_repeat(session, clock, complaint, earlier)
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
            "Idempotency-Key 已用于另一个不同的请求 (key reused with a different body)",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return session.get(Complaint, row.complaint_id)


def _remember(
    session: Session, scope: str, key: str, fingerprint: str, complaint: Complaint, now: Any
) -> None:
    # A concurrent request with the same key makes the commit fail on the unique key; the
    # caller then rolls back and replays (see ``replay_after_conflict``).
    session.add(
        IdempotencyKey(
            scope=scope,
            key=key,
            request_hash=fingerprint,
            complaint=complaint,
            created_at=now,
        )
    )


def replay_after_conflict(
    session: Session, scope: str, key: str, data: ComplaintCreate
) -> Complaint | None:
    """After a failed commit: the complaint a concurrent request with this key created."""
    return _replay(session, scope, key, request_fingerprint(data))


def _first_stage(session: Session) -> Stage:
    stages = active_stages(session)
    if not stages:
        raise Conflict("没有配置处理阶段 (no stages configured; run kesu db upgrade)")
    return stages[0]


def _title_from(content: str) -> str:
    line = " ".join(content.split())
    return line[:40] + ("…" if len(line) > 40 else "")


def _priority_for(severity: str, tier: str) -> int:
    """Priority 1 (urgent) – 4 (low): serious cases and VIP customers go first."""
    base = {0: 3, 1: 3, 2: 2, 3: 1}[SEVERITY_RANK[Severity(severity)]]
    if tier in ("vip", "key"):
        base = max(1, base - 1)
    return base


def upsert_customer(session: Session, clock: Clock, data: CustomerIn) -> Customer:
    """Finds the customer by external id, phone or email, updating what they told us now."""
    keys = [
        (Customer.external_id, data.external_id),
        (Customer.phone, data.phone),
        (Customer.email, data.email),
    ]
    wanted = [column == value for column, value in keys if value]
    candidates = list(
        session.scalars(select(Customer).where(or_(*wanted)).order_by(Customer.id).limit(10))
    )
    customer = None
    for column, value in keys:  # the strongest identifier wins
        customer = next((c for c in candidates if value and getattr(c, column.key) == value), None)
        if customer:
            break
    now = clock.now()
    if customer is None:
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
    customer.name = data.name
    for field in ("phone", "email", "region", "external_id"):
        value = getattr(data, field)
        if value:
            setattr(customer, field, value)
    if data.tier != "standard":
        customer.tier = data.tier
    customer.updated_at = now
    return customer


def _earlier_on_same_matter(session: Session, complaint: Complaint) -> Complaint | None:
    """重复投诉: the same customer about the same order or product within 30 days."""
    if complaint.order_no:
        matter = Complaint.order_no == complaint.order_no
    elif complaint.product:
        matter = Complaint.product == complaint.product
    else:
        return None
    return session.scalar(
        select(Complaint)
        .where(
            Complaint.customer_id == complaint.customer.id,
            Complaint.received_at >= complaint.received_at - REPEAT_WINDOW,
            Complaint.merged_into_id.is_(None),
            matter,
        )
        .order_by(Complaint.id)
        .limit(1)
    )


def _link_repeat(session: Session, clock: Clock, complaint: Complaint, earlier: Complaint) -> None:
    complaint.repeat_of = earlier
    timeline.record(
        session,
        clock,
        Actor("system", None, "系统"),
        complaint,
        EventKind.repeat_detected,
        body=f"重复投诉，关联 {earlier.number}",
        data={"repeat_of": earlier.number},
        audit={"repeat_of": earlier.number},
    )


def update_complaint(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, data: ComplaintUpdate
) -> Complaint:
    check_version(complaint, data.version)
    changes: dict[str, Any] = {}
    fields = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if "category" in fields:
        category = resolve_category(session, fields.pop("category")) if data.category else None
        old = complaint.category.path if complaint.category else None
        if (category.path if category else None) != old:
            changes["category"] = [old, category.path if category else None]
            complaint.category_id = category.id if category else None
            complaint.category = category
    if "custom_fields" in fields:
        fields["custom_fields"] = validate_custom_fields(session, fields["custom_fields"] or {})
    if "tags" in fields:
        fields["tags"] = sorted({t.strip() for t in fields["tags"] or [] if t.strip()})
    for key, value in fields.items():
        if value is None and key != "custom_fields":
            continue
        old = getattr(complaint, key)
        if old != value:
            changes[key] = [old, value]
            setattr(complaint, key, value)
    if not changes:
        return complaint
    complaint.updated_at = clock.now()
    summary = "、".join(changes)
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        EventKind.updated,
        body=f"修改了 {summary}" + (f"：{data.reason}" if data.reason else ""),
        data={"changes": changes},
        audit=changes,
    )
    return complaint


def add_note(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    body: str,
    public: bool,
    version: int | None = None,
) -> None:
    """An internal note, or (``public``) a message the customer sees on the tracking page."""
    check_version(complaint, version)
    now = clock.now()
    kind = EventKind.message if public else EventKind.note
    # A note does not change the complaint, so it does not bump its version (no needless 409s).
    if public and complaint.first_response_at is None:
        complaint.first_response_at = now  # a message to the customer is our first response
    timeline.record(
        session, clock, actor, complaint, kind, body=body, public=public, audit={"kind": kind.value}
    )


def add_customer_message(session: Session, clock: Clock, complaint: Complaint, body: str) -> None:
    timeline.record(
        session,
        clock,
        Actor("customer", None, complaint.customer.name),
        complaint,
        EventKind.customer_message,
        body=body,
        public=True,
        audit={"kind": "customer_message"},
    )


def assign(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    *,
    version: int,
    team: Team | None,
    assignee: User | None,
    reason: str | None,
) -> None:
    check_version(complaint, version)
    user = actor.user
    if user is None and actor.kind != "system":  # the system: routing rules
        raise Forbidden("需要登录 (staff only)")
    if user is not None:
        claiming = assignee is not None and assignee.id == user.id and complaint.assignee_id is None
        if not can(user.role, Permission.complaint_assign) and not (
            claiming and can(user.role, Permission.complaint_claim)
        ):
            raise Forbidden(
                f"角色 {user.role} 只能领取未分配的投诉 (may only claim unassigned ones)"
            )
    if assignee is not None:
        if not assignee.is_active:
            raise InvalidInput(f"用户 {assignee.username} 已停用 (inactive user)", field="assignee")
        if team is None and assignee.team_id is not None:
            team = session.get(Team, assignee.team_id)
        elif team is not None and assignee.team_id not in (None, team.id):
            raise InvalidInput(
                f"{assignee.username} 不在团队 {team.name} (not in that team)", field="assignee"
            )
    if team is None and assignee is None:
        raise InvalidInput("请指定团队或处理人 (give a team or an assignee)", field="assignee")
    if (
        complaint.assignee_id is not None
        and (assignee is None or assignee.id != complaint.assignee_id)
        and not reason
    ):
        raise InvalidInput("改派需要填写原因 (reassignment needs a reason)", field="reason")
    old = {
        "team": complaint.team.code if complaint.team else None,
        "assignee": complaint.assignee.username if complaint.assignee else None,
    }
    complaint.team_id = team.id if team else complaint.team_id
    complaint.team = team or complaint.team
    complaint.assignee_id = assignee.id if assignee else None
    complaint.assignee = assignee
    complaint.updated_at = clock.now()
    new = {
        "team": complaint.team.code if complaint.team else None,
        "assignee": assignee.username if assignee else None,
    }
    who = assignee.label if assignee else (team.name if team else "")
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        EventKind.assigned,
        body=f"分配给 {who}" + (f"，原因：{reason}" if reason else ""),
        data={"from": old, "to": new, "reason": reason},
        audit={
            "team": [old["team"], new["team"]],
            "assignee": [old["assignee"], new["assignee"]],
            "reason": reason,
        },
    )


def merge(
    session: Session,
    clock: Clock,
    actor: Actor,
    duplicate: Complaint,
    keep: Complaint,
    version: int,
    reason: str | None,
) -> None:
    """Closes ``duplicate`` as merged into ``keep``; both timelines say so."""
    check_version(duplicate, version)
    if duplicate.id == keep.id:
        raise InvalidInput("不能合并到自身 (cannot merge into itself)", field="into")
    if duplicate.merged_into_id is not None:
        raise Conflict(f"{duplicate.number} 已经被合并 (already merged)")
    if keep.merged_into_id is not None:
        raise InvalidInput(f"{keep.number} 本身已被合并 (target was merged)", field="into")
    now = clock.now()
    closed = [s for s in active_stages(session) if s.category == StageCategory.closed]
    duplicate.merged_into_id = keep.id
    if closed:
        duplicate.stage = closed[-1].code
    duplicate.is_open = False
    duplicate.due_at = None
    duplicate.closed_at = now
    duplicate.updated_at = now
    keep.updated_at = now
    session.add(keep)
    timeline.record(
        session,
        clock,
        actor,
        duplicate,
        EventKind.merged_into,
        public=True,
        body=f"已合并到 {keep.number}" + (f"：{reason}" if reason else ""),
        data={"into": keep.number},
        audit={"merged_into": keep.number},
    )
    timeline.record(
        session,
        clock,
        actor,
        keep,
        EventKind.merged,
        body=f"合并了重复投诉 {duplicate.number}",
        data={"duplicate": duplicate.number},
        audit={"merged": duplicate.number},
    )
