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
    signed_in = "signed_in"  # any active user (one's own profile, tokens, the bell)
    complaint_read = "complaint.read"
    complaint_create = "complaint.create"  # register a complaint (API, the entry form)
    complaint_handle = "complaint.handle"  # notes, messages, stage moves
    complaint_assign = "complaint.assign"  # assign anyone / reassign
    complaint_claim = "complaint.claim"  # assign to oneself
    complaint_merge = "complaint.merge"
    complaint_reopen = "complaint.reopen"
    token_create = "token.create"  # mint one's own API tokens (with the password again)
    assignable = "assignable"  # in the automatic-assignment pool (sets one's own absence)
    contact_view = "contact.view"  # a customer's phone and email unmasked (each read audited)
    customer_edit = "customer.edit"  # edit or merge customer records (audited)
    customer_anonymize = "customer.anonymize"  # erase a customer's data (PIPL request)
    mention_review = "mention.review"  # convert or dismiss social-media mentions
    knowledge_edit = "knowledge.edit"  # write knowledge articles, drafts and submissions
    knowledge_publish = "knowledge.publish"  # review, publish and archive knowledge articles
    compensation_request = "compensation.request"  # ask for a payout on a complaint
    compensation_approve = "compensation.approve"  # decide payouts in one's approval queue
    compensation_ledger = "compensation.ledger"  # read the payout ledger and budgets, export it
    compensation_budget = "compensation.budget"  # set the budgets (finance, admins)
    # mark a payout paid: the payment system's callback, with a finance service account's token
    compensation_pay = "compensation.pay"
    analytics_view = "analytics.view"  # dashboards, KPIs, reports (team leads: their team)
    complaint_export = "complaint.export"  # the workbench list as Excel/CSV (PII masked by role)
    admin = "admin"


_READERS = {Permission.signed_in, Permission.complaint_read}
_HANDLERS = _READERS | {
    Permission.complaint_create,
    Permission.complaint_handle,
    Permission.complaint_claim,
    Permission.token_create,
    Permission.contact_view,
    Permission.mention_review,
    Permission.compensation_request,
}
_LEADS = _HANDLERS | {
    Permission.complaint_assign,
    Permission.complaint_merge,
    Permission.complaint_reopen,
    Permission.customer_edit,
    Permission.compensation_approve,
    Permission.analytics_view,
    Permission.complaint_export,
}
_INSIGHT = {Permission.compensation_ledger, Permission.analytics_view, Permission.complaint_export}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission) - {Permission.assignable},
    Role.executive: frozenset(_LEADS | _INSIGHT),
    Role.manager: frozenset(
        _LEADS | _INSIGHT | {Permission.knowledge_edit, Permission.knowledge_publish}
    ),
    Role.team_lead: frozenset(_LEADS | {Permission.assignable, Permission.knowledge_edit}),
    Role.agent: frozenset(_HANDLERS | {Permission.complaint_reopen, Permission.assignable}),
    Role.finance_approver: frozenset(
        _READERS
        | {
            Permission.compensation_approve,
            Permission.compensation_ledger,
            Permission.compensation_budget,
            Permission.compensation_pay,
        }
    ),
    Role.auditor: frozenset(_READERS | _INSIGHT),
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
