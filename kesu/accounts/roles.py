"""Roles and what each may do. One table, used by the API and the pages alike."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    executive = "executive"
    manager = "manager"
    team_lead = "team_lead"
    agent = "agent"
    finance_approver = "finance_approver"
    auditor = "auditor"


ROLE_LABELS: dict[Role, str] = {
    Role.admin: "管理员",
    Role.executive: "高管",
    Role.manager: "主管",
    Role.team_lead: "组长",
    Role.agent: "客服",
    Role.finance_approver: "财务审批",
    Role.auditor: "审计",
}


class Permission(StrEnum):
    complaint_read = "complaint.read"
    complaint_handle = "complaint.handle"  # notes, messages, stage moves
    complaint_assign = "complaint.assign"  # assign anyone / reassign
    complaint_claim = "complaint.claim"  # assign to oneself
    complaint_merge = "complaint.merge"
    complaint_reopen = "complaint.reopen"
    admin = "admin"


_HANDLERS = {Permission.complaint_read, Permission.complaint_handle, Permission.complaint_claim}
_LEADS = _HANDLERS | {
    Permission.complaint_assign,
    Permission.complaint_merge,
    Permission.complaint_reopen,
}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.executive: frozenset(_LEADS),
    Role.manager: frozenset(_LEADS),
    Role.team_lead: frozenset(_LEADS),
    Role.agent: frozenset(_HANDLERS | {Permission.complaint_reopen}),
    Role.finance_approver: frozenset({Permission.complaint_read}),
    Role.auditor: frozenset({Permission.complaint_read}),
}

# Roles that see every complaint; the others see their team's, the unassigned pool and their own.
ALL_DATA_ROLES = frozenset(
    {Role.admin, Role.executive, Role.manager, Role.auditor, Role.finance_approver}
)


def can(role: str, permission: Permission) -> bool:
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False
