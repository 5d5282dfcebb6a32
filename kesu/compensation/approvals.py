"""Approval chains: thresholds and roles as data, fast claims, joint review.

The tiers live in ``compensation_tiers`` once an admin saved them; until then the defaults of
``data/approvals.toml`` apply (read on every call: the file is the seed, the table the edit).
A request goes to the first tier whose ``max_amount`` (inclusive) its amount does not exceed:

- ``fast`` (快速理赔): no steps; the request is approved by rule when it is made;
- ``chain``: one step per role, in order (组长 → 主管 → 财务审批); a team-lead step belongs to the
  lead of the complaint's team (any team lead when the complaint has no team);
- ``joint`` (联合审核): the tier's roles first (if any), then one step shared by the lead of
  every named department, decided in any order; all must approve.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import Team, User
from kesu.accounts.roles import ROLE_LABELS, Role
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.compensation.models import CompensationApproval, CompensationTier
from kesu.complaints.models import Complaint
from kesu.errors import InvalidInput
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

DATA_FILE = Path(__file__).parent / "data" / "approvals.toml"
KINDS = ("fast", "chain", "joint")
KIND_LABELS = {"fast": N_("快速理赔"), "chain": N_("逐级审批"), "joint": N_("联合审核")}
# Roles that may stand in a chain (those with compensation.approve but the admin).
APPROVER_ROLES = (Role.team_lead, Role.manager, Role.executive, Role.finance_approver)
MAX_AMOUNT = Decimal("1000000.00")  # above this an amount is absurd (a typo), not a claim
MAX_TIERS = 10
_CODE = re.compile(r"^[a-z0-9_-]{1,32}$")
_AMOUNT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")


@dataclass(frozen=True)
class Tier:
    code: str
    kind: str
    max_amount: Decimal | None
    roles: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()  # team codes

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "max_amount": None if self.max_amount is None else f"{self.max_amount:.2f}",
            "roles": list(self.roles),
            "departments": list(self.departments),
        }


@dataclass(frozen=True)
class Step:
    step: int
    role: str
    team_id: int | None = None


@dataclass
class Route:
    tier: Tier
    steps: list[Step] = field(default_factory=list)


def parse_amount(raw: object, name: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """A decimal string (or integer) of at most 2 decimals, positive, at most ``MAX_AMOUNT``;
    floats are refused (they are not exact)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise InvalidInput(_('金额请写成数字字符串，例如 "199.00"'), field=name)
    text = str(raw).strip()
    if text.startswith("-"):
        raise InvalidInput(_("金额不能为负数"), field=name)
    if not _AMOUNT.match(text):
        raise InvalidInput(_("金额格式不正确：最多两位小数，例如 199.00"), field=name)
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise InvalidInput(_("金额格式不正确：最多两位小数，例如 199.00"), field=name) from None
    if value <= 0 and not allow_zero:
        raise InvalidInput(_("金额必须大于 0"), field=name)
    if value > MAX_AMOUNT:
        raise InvalidInput(
            _("金额超出上限 %(max)s 元，请检查是否填错") % {"max": f"{MAX_AMOUNT:,.2f}"},
            field=name,
        )
    return value.quantize(Decimal("0.01"))


# ---- the tiers --------------------------------------------------------------------------


def default_raw() -> list[dict[str, Any]]:
    with DATA_FILE.open("rb") as handle:
        return [
            {
                "code": t["code"],
                "kind": t["kind"],
                "max_amount": t.get("max"),
                "roles": t.get("roles", []),
                "departments": t.get("departments", []),
            }
            for t in tomllib.load(handle)["tier"]
        ]


def tiers(session: Session) -> list[Tier]:
    """The tiers in force: the admin's rows, else the data file's defaults."""
    rows = list(session.scalars(select(CompensationTier).order_by(CompensationTier.position)))
    if not rows:
        return parse_tiers(session, default_raw())
    return [
        Tier(r.code, r.kind, r.max_amount, tuple(r.roles or ()), tuple(r.departments or ()))
        for r in rows
    ]


def is_default(session: Session) -> bool:
    return session.scalar(select(CompensationTier.id).limit(1)) is None


def parse_tiers(session: Session, raw: list[dict[str, Any]]) -> list[Tier]:
    """Validates tiers given as dicts (the data file, the API, the admin form)."""
    if not 1 <= len(raw) <= MAX_TIERS:
        raise InvalidInput(_("审批档位须有 1 到 %(n)d 档") % {"n": MAX_TIERS}, field="tiers")
    teams = {t.code for t in session.scalars(select(Team).where(Team.is_active))}
    out: list[Tier] = []
    seen: set[str] = set()
    last = len(raw) - 1
    for i, item in enumerate(raw):
        where = f"tiers[{i}]"
        code = str(item.get("code") or "").strip()
        if not _CODE.match(code) or code in seen:
            raise InvalidInput(
                _("第 %(n)d 档的代码须唯一，由小写字母、数字、-、_ 组成") % {"n": i + 1},
                field=f"{where}.code",
            )
        seen.add(code)
        kind = str(item.get("kind") or "")
        if kind not in KINDS:
            raise InvalidInput(
                _("第 %(n)d 档的类型须为 fast、chain 或 joint") % {"n": i + 1},
                field=f"{where}.kind",
            )
        if kind == "fast" and i != 0:
            raise InvalidInput(_("快速理赔只能是第一档"), field=f"{where}.kind")
        raw_max = item.get("max_amount")
        if raw_max in (None, ""):
            if i != last:
                raise InvalidInput(
                    _("第 %(n)d 档须填写金额上限（只有最后一档不设上限）") % {"n": i + 1},
                    field=f"{where}.max_amount",
                )
            maximum = None
        else:
            if i == last:
                raise InvalidInput(
                    _("最后一档不设金额上限（超过上一档的金额都归这一档）"),
                    field=f"{where}.max_amount",
                )
            maximum = parse_amount(raw_max, f"{where}.max_amount")
            if out and out[-1].max_amount is not None and maximum <= out[-1].max_amount:
                raise InvalidInput(_("金额上限须逐档递增"), field=f"{where}.max_amount")
        roles = _codes(item.get("roles"), f"{where}.roles")
        departments = _codes(item.get("departments"), f"{where}.departments")
        bad_role = next((r for r in roles if r not in {x.value for x in APPROVER_ROLES}), None)
        if bad_role is not None:
            raise InvalidInput(
                _("未知的审批角色：%(role)s") % {"role": bad_role}, field=f"{where}.roles"
            )
        bad_team = next((d for d in departments if d not in teams), None)
        if bad_team is not None:
            raise InvalidInput(
                _("没有这个部门：%(team)s") % {"team": bad_team}, field=f"{where}.departments"
            )
        if kind == "fast" and (roles or departments):
            raise InvalidInput(_("快速理赔按规则自动批准，不设审批人"), field=f"{where}.roles")
        if kind == "chain" and (not roles or departments):
            raise InvalidInput(_("逐级审批须列出审批角色（不设部门）"), field=f"{where}.roles")
        if kind == "joint" and not departments:
            raise InvalidInput(_("联合审核须列出参与的部门"), field=f"{where}.departments")
        out.append(Tier(code, kind, maximum, roles, departments))
    return out


def _codes(value: object, name: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"[\s,，、]+", value) if v]
    if not isinstance(value, list) or len(value) > 10:
        raise InvalidInput(_("请给出至多 10 个代码的列表"), field=name)
    items = tuple(str(v).strip() for v in value)
    if len(set(items)) != len(items) or any(not _CODE.match(v) for v in items):
        raise InvalidInput(_("代码不能重复，且只能由小写字母、数字、-、_ 组成"), field=name)
    return items


def save(session: Session, clock: Clock, actor: Actor, new: list[Tier]) -> None:
    """Replaces the tiers (already validated by ``parse_tiers``); audited. Requests already
    made keep the steps they were given."""
    before = [t.as_dict() for t in tiers(session)]
    session.execute(delete(CompensationTier))
    session.flush()
    now = clock.now()
    for position, tier in enumerate(new, start=1):
        session.add(
            CompensationTier(
                position=position,
                code=tier.code,
                kind=tier.kind,
                max_amount=tier.max_amount,
                roles=list(tier.roles),
                departments=list(tier.departments),
                updated_at=now,
                updated_by=actor.label[:128],
            )
        )
    record_audit(
        session,
        clock,
        actor,
        "compensation.tiers",
        "compensation_tiers",
        "all",
        {"before": before, "after": [t.as_dict() for t in new]},
    )


# ---- routing a request ------------------------------------------------------------------


def tier_for(all_tiers: list[Tier], amount: Decimal) -> Tier:
    for tier in all_tiers:
        if tier.max_amount is None or amount <= tier.max_amount:
            return tier
    return all_tiers[-1]  # pragma: no cover - the last tier has no maximum


def route(session: Session, complaint: Complaint, amount: Decimal) -> Route:
    """The tier of ``amount`` and the steps it needs for ``complaint``."""
    tier = tier_for(tiers(session), amount)
    steps: list[Step] = []
    for role in tier.roles:
        team = complaint.team_id if role == Role.team_lead else None
        steps.append(Step(len(steps) + 1, role, team))
    if tier.kind == "joint":
        codes = list(tier.departments)
        found = {t.code: t.id for t in session.scalars(select(Team).where(Team.code.in_(codes)))}
        shared = len(steps) + 1
        steps += [Step(shared, Role.team_lead, found[c]) for c in codes if c in found]
    return Route(tier, steps)


def current_step(approvals: list[CompensationApproval]) -> int | None:
    pending = [a.step for a in approvals if a.decision == "pending"]
    return min(pending) if pending else None


def may_decide(user: User, approval: CompensationApproval) -> bool:
    """The step's role (and, for a team's step, a member of that team)."""
    if approval.decision != "pending" or user.role != approval.role:
        return False
    return approval.team_id is None or user.team_id == approval.team_id


def approvers(
    session: Session, approval: CompensationApproval, exclude: int | None = None
) -> list[User]:
    """The active users who may decide ``approval`` (not the requester)."""
    query = select(User).where(User.is_active, User.role == approval.role)
    if approval.team_id is not None:
        query = query.where(User.team_id == approval.team_id)
    return [u for u in session.scalars(query.order_by(User.id)) if u.id != exclude]


def role_label(role: str) -> str:
    if role == "system":
        return _("系统规则")
    try:
        return _(ROLE_LABELS[Role(role)])
    except ValueError:
        return role


def describe(tier: Tier, team_names: dict[str, str] | None = None) -> str:
    """A tier in words: "组长 → 主管", "联合审核：质量管理部、物流部、财务部"."""
    if tier.kind == "fast":
        return _("快速理赔（按规则即时批准）")
    chain = " → ".join(role_label(r) for r in tier.roles)
    if tier.kind == "chain":
        return chain
    names = "、".join((team_names or {}).get(d, d) for d in tier.departments)
    joint = _("联合审核：%(departments)s") % {"departments": names}
    return f"{chain} → {joint}" if chain else joint
