"""Bulk actions from the workbench: assign, change the category or severity, add a tag.

Each selected complaint goes through the ordinary service (``service.assign`` /
``service.update_complaint``), one at a time inside the caller's transaction, so each gets its
own timeline event and audit row. A complaint the user may not see or change is skipped and
reported with a reason, never changed; each one's work sits in a savepoint, so a refusal
halfway leaves nothing of it behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from kesu.accounts.models import Team, User
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import service
from kesu.complaints.access import get_complaint_for_user
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintUpdate
from kesu.errors import Forbidden, InvalidInput, KesuError
from kesu.taxonomy.enums import Severity
from kesu.taxonomy.service import resolve_category
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

ACTIONS = ("assign", "category", "severity", "tag")
MAX_IDS = 200
# Why a complaint was skipped: a stable code for machines, a sentence for people.
REASONS = {
    "not_found": N_("不存在或不在您的范围内"),
    "forbidden": N_("无权修改"),
    "merged": N_("已被合并"),
    "stale": N_("投诉已被他人修改"),
}


@dataclass(frozen=True)
class Assignment:
    team: Team | None
    assignee: User | None
    reason: str | None


@dataclass
class Skipped:
    id: int
    reason: str  # a code of REASONS, or "invalid"
    message: str
    number: str | None = None


@dataclass
class BulkResult:
    updated: list[Complaint] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def parse_ids(values: list[Any]) -> list[int]:
    """Distinct complaint ids in the order given; 422 naming ``ids``."""
    if not values:
        raise InvalidInput(_("请至少选择一条投诉"), field="ids")
    ids: list[int] = []
    for value in values:
        text = str(value).strip()
        if isinstance(value, bool) or not (text.isascii() and text.isdigit() and len(text) < 19):
            raise InvalidInput(_("投诉编号无效：%(v)s") % {"v": text[:40]}, field="ids")
        if int(text) not in ids:
            ids.append(int(text))
    if len(ids) > MAX_IDS:
        raise InvalidInput(_("一次最多处理 %(n)d 条投诉") % {"n": MAX_IDS}, field="ids")
    return ids


def check_action(user: User, action: str) -> Permission:
    """The permission the action needs (403 if the user has none of it)."""
    if action not in ACTIONS:
        raise InvalidInput(_("批量操作无效"), field="action")
    permission = Permission.complaint_assign if action == "assign" else Permission.complaint_handle
    if not can(user.role, permission):
        raise Forbidden(_("您的角色不能执行这个批量操作"))
    return permission


def resolve_value(session: Session, action: str, value: Any) -> Any:
    """The action's value checked once for all complaints: 422 naming ``value``."""
    if action == "severity":
        if not isinstance(value, str) or value not in Severity.__members__:
            raise InvalidInput(_("请选择严重程度"), field="value")
        return Severity(value)
    if action == "tag":
        tag = value.strip() if isinstance(value, str) else ""
        if not tag or len(tag) > 32:
            raise InvalidInput(_("标签为 1 到 32 个字"), field="value")
        return tag
    if action == "category":
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise InvalidInput(_("请选择分类"), field="value")
        try:
            return resolve_category(session, str(value).strip()[:255])
        except KesuError:
            raise InvalidInput(_("没有这个分类"), field="value") from None
    return _assignment(session, value)


def _assignment(session: Session, value: Any) -> Assignment:
    if not isinstance(value, dict) or set(value) - {"team_id", "assignee_id", "reason"}:
        raise InvalidInput(_("请选择团队或处理人"), field="value")
    team = _row(session, Team, value.get("team_id"))
    assignee = _row(session, User, value.get("assignee_id"))
    reason = value.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise InvalidInput(_("原因最多 500 字"), field="value")
    if team is None and assignee is None:
        raise InvalidInput(_("请选择团队或处理人"), field="value")
    return Assignment(team, assignee, (reason or "").strip() or None)


def _row(session: Session, model: type[Team | User], ref: Any) -> Any:
    if ref is None or ref == "":
        return None
    text = str(ref)
    found: Any = (
        session.get(model, int(text))
        if not isinstance(ref, bool) and text.isascii() and text.isdigit() and len(text) < 10
        else None
    )
    if found is None or not found.is_active:
        raise InvalidInput(_("选择无效，请重新选择"), field="value")
    return found


def apply(
    session: Session,
    clock: Clock,
    actor: Actor,
    user: User,
    ids: list[int],
    action: str,
    value: Any,
) -> BulkResult:
    """Applies ``action`` (value already resolved) to each complaint; never commits."""
    permission = check_action(user, action)
    result = BulkResult()
    for complaint_id in ids:
        try:
            complaint = get_complaint_for_user(session, user, complaint_id, permission)
        except KesuError:
            result.skipped.append(_skip(complaint_id, "not_found"))
            continue
        if complaint.merged_into_id is not None:
            result.skipped.append(_skip(complaint_id, "merged", complaint.number))
            continue
        savepoint = session.begin_nested()
        try:
            _one(session, clock, actor, complaint, action, value)
            savepoint.commit()
        except (KesuError, StaleDataError) as exc:
            savepoint.rollback()
            result.skipped.append(_refused(complaint_id, complaint.number, exc))
            continue
        result.updated.append(complaint)
    return result


def _one(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, action: str, value: Any
) -> None:
    version = complaint.version
    if action == "assign":
        service.assign(
            session,
            clock,
            actor,
            complaint,
            version=version,
            team=value.team,
            assignee=value.assignee,
            reason=value.reason,
        )
        return
    change: dict[str, Any] = {"version": version}
    if action == "category":
        change["category"] = str(value.id)
    elif action == "severity":
        change["severity"] = value
    else:
        change["tags"] = [*(complaint.tags or []), value]
    try:
        data = ComplaintUpdate.model_validate(change)
    except ValueError:
        raise InvalidInput(_("标签太多（最多 20 个）"), field="value") from None
    service.update_complaint(session, clock, actor, complaint, data)


def _skip(complaint_id: int, reason: str, number: str | None = None) -> Skipped:
    return Skipped(complaint_id, reason, _(REASONS[reason]), number)


def _refused(complaint_id: int, number: str, exc: Exception) -> Skipped:
    if isinstance(exc, StaleDataError):
        return _skip(complaint_id, "stale", number)
    assert isinstance(exc, KesuError)
    reason = {"forbidden": "forbidden", "stale_version": "stale"}.get(exc.code, "invalid")
    return Skipped(complaint_id, reason, exc.message, number)
