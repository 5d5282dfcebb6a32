"""The rules for creating and changing complaints. Every change goes through here.

Each function works inside the caller's transaction: it changes the rows, writes the timeline
event and the audit record, and never commits. Registering a complaint lives in
``registration.py``, stage moves in ``lifecycle.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.access import get_complaint_for_user, lookup
from kesu.complaints.enums import EventKind, StageCategory
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.complaints.schemas import ComplaintUpdate
from kesu.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from kesu.taxonomy.service import active_stages, resolve_category, validate_custom_fields
from kesu.web.i18n import gettext as _

# custom_fields keys written by the intake channels, not by the form (kesu.intake.social).
CHANNEL_FIELDS = frozenset({"social_url", "social_author"})


def check_version(complaint: Complaint, version: int | None) -> None:
    if version is not None and version != complaint.version:
        raise StaleVersion(
            _("投诉已被他人修改（您看到的是第 %(seen)d 版，当前是第 %(current)d 版），请刷新后重试")
            % {"seen": version, "current": complaint.version},
            field="version",
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
        # Keys an intake channel set (the social post's URL and author) are not the form's:
        # kept as they are, whatever the edit sends.
        given = {
            k: v for k, v in (fields["custom_fields"] or {}).items() if k not in CHANNEL_FIELDS
        }
        kept = {k: v for k, v in (complaint.custom_fields or {}).items() if k in CHANNEL_FIELDS}
        fields["custom_fields"] = {**validate_custom_fields(session, given), **kept}
    if "tags" in fields:
        fields["tags"] = sorted({t.strip() for t in fields["tags"] or [] if t.strip()})
    if fields.get("order_value") is not None:  # money: kept as text on the timeline
        value = Decimal(fields.pop("order_value")).quantize(Decimal("0.01"))
        if complaint.order_value != value:
            old = None if complaint.order_value is None else f"{complaint.order_value:.2f}"
            changes["order_value"] = [old, f"{value:.2f}"]
            complaint.order_value = value
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
        data={"changes": changes, "reason": data.reason},
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
) -> ComplaintEvent:
    """An internal note, or (``public``) a message the customer sees on the tracking page."""
    check_version(complaint, version)
    now = clock.now()
    kind = EventKind.message if public else EventKind.note
    # A note does not change the complaint, so it does not bump its version (no needless 409s).
    if public and complaint.first_response_at is None:
        complaint.first_response_at = now  # a message to the customer is our first response
    return timeline.record(
        session, clock, actor, complaint, kind, body=body, public=public, audit={"kind": kind.value}
    )


def add_customer_message(
    session: Session, clock: Clock, complaint: Complaint, body: str
) -> ComplaintEvent:
    return timeline.record(
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
        raise Forbidden(_("需要登录"))
    if user is not None:
        claiming = assignee is not None and assignee.id == user.id and complaint.assignee_id is None
        if not can(user.role, Permission.complaint_assign) and not (
            claiming and can(user.role, Permission.complaint_claim)
        ):
            raise Forbidden(_("您的角色只能领取未分配的投诉"))
    if assignee is not None:
        if not assignee.is_active:
            raise InvalidInput(
                _("用户 %(user)s 已停用") % {"user": assignee.username}, field="assignee"
            )
        if team is None and assignee.team_id is not None:
            team = session.get(Team, assignee.team_id)
        elif team is not None and assignee.team_id not in (None, team.id):
            raise InvalidInput(
                _("%(user)s 不在团队 %(team)s") % {"user": assignee.username, "team": team.name},
                field="assignee",
            )
    if team is None and assignee is None:
        raise InvalidInput(_("请指定团队或处理人"), field="assignee")
    if (
        complaint.assignee_id is not None
        and (assignee is None or assignee.id != complaint.assignee_id)
        and not reason
    ):
        raise InvalidInput(_("改派需要填写原因"), field="reason")
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
        data={"from": old, "to": new, "reason": reason, "who": who},
        audit={
            "team": [old["team"], new["team"]],
            "assignee": [old["assignee"], new["assignee"]],
            "reason": reason,
        },
    )


def merge_target(session: Session, user: User, ref: str) -> Complaint:
    """The complaint to merge into, named by its number (or id): one ``user`` may see.

    A number that does not exist and one outside the user's scope get the same answer, which
    names what was typed and nothing else (no internal id), so the form cannot be used to probe
    other teams' complaints."""
    text = ref.strip()
    found = lookup(session, text) if text else None
    if found is not None:
        try:
            return get_complaint_for_user(session, user, found.id)
        except NotFound:
            pass
    raise InvalidInput(_("没有这个投诉编号：%(n)s") % {"n": text}, field="into")


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
        raise InvalidInput(_("不能合并到自身"), field="into")
    if duplicate.merged_into_id is not None:
        raise Conflict(_("%(number)s 已经被合并") % {"number": duplicate.number})
    if keep.merged_into_id is not None:
        raise InvalidInput(_("%(number)s 本身已被合并") % {"number": keep.number}, field="into")
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
        data={"into": keep.number, "reason": reason},
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
