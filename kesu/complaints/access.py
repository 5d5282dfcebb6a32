"""One access helper per object, used by the API and the pages alike."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.accounts.roles import ALL_DATA_ROLES, Permission, Role, can
from kesu.complaints.models import Complaint
from kesu.errors import Forbidden, NotFound
from kesu.web.i18n import gettext as _


def scope_filter(user: User) -> ColumnElement[bool]:
    """Which complaints a user may see: all, or their team's, the unassigned pool and their own."""
    if Role(user.role) in ALL_DATA_ROLES:
        return true()
    clauses = [Complaint.team_id.is_(None), Complaint.assignee_id == user.id]
    if user.team_id is not None:
        clauses.append(Complaint.team_id == user.team_id)
    return or_(*clauses)


def scope_branches(user: User, team_queue: bool = False) -> list[ColumnElement[bool]]:
    """``scope_filter`` as separate conditions, each served by its own index.

    Lists run one keyset query per branch and merge them, because an ``OR`` across indexes
    makes the database sort every matching row before it can return the newest 50.
    """
    if Role(user.role) in ALL_DATA_ROLES and not team_queue:
        return [true()]
    # 团队队列 (and an agent's whole scope): the team's, the unassigned pool and one's own.
    branches = [Complaint.team_id.is_(None), Complaint.assignee_id == user.id]
    if user.team_id is not None:
        branches.append(Complaint.team_id == user.team_id)
    return branches


def lookup(session: Session, ref: str | int) -> Complaint | None:
    text = str(ref).strip()
    if text.isascii() and text.isdigit():  # not "¹": str.isdigit() accepts it, int() does not
        # ids are 64-bit: a longer number names no complaint (and would overflow the driver)
        return session.get(Complaint, int(text)) if len(text) < 19 else None
    return session.scalar(select(Complaint).where(Complaint.number == text.upper()))


def get_complaint_for_user(
    session: Session, user: User, ref: str | int, permission: Permission = Permission.complaint_read
) -> Complaint:
    """The complaint ``ref`` (id or number) if ``user`` may see it; 404 otherwise (no leaks)."""
    complaint = lookup(session, ref)
    if complaint is None or not (
        _in_scope(user, complaint) or _approver_reads(session, user, complaint, permission)
    ):
        raise NotFound(_("没有这个投诉：%(ref)s") % {"ref": ref}, field="id")
    require(user, permission)
    return complaint


def require(user: User, permission: Permission) -> None:
    if not can(user.role, permission):
        raise Forbidden(
            _("您的角色无权执行此操作（需要权限 %(permission)s）")
            % {"permission": permission.value},
            code="forbidden",
        )


def _approver_reads(
    session: Session, user: User, complaint: Complaint, permission: Permission
) -> bool:
    """Reading only: a compensation request of the complaint waits for this user's decision."""
    from kesu.compensation.service import awaits  # compensation builds on complaints

    return permission == Permission.complaint_read and awaits(session, user, complaint.id)


def _in_scope(user: User, complaint: Complaint) -> bool:
    if Role(user.role) in ALL_DATA_ROLES:
        return True
    return (
        complaint.team_id is None
        or complaint.assignee_id == user.id
        or (user.team_id is not None and complaint.team_id == user.team_id)
    )
