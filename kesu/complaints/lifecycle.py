"""The closed loop: moving a complaint between stages, customer confirmation, reopening.

The stages are data (``stages`` table). A complaint moves forward one stage at a time, or back
to a stage listed in its current stage's ``back_to``; skipping is refused. Leaving a stage
needs the role it allows and the outputs it requires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kesu.accounts.roles import ROLE_LABELS, Permission, Role, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.enums import EventKind, StageCategory
from kesu.complaints.models import Complaint, Stage
from kesu.complaints.service import check_version
from kesu.errors import Conflict, Forbidden, InvalidInput
from kesu.taxonomy.service import active_stages
from kesu.web.i18n import current_locale
from kesu.web.i18n import gettext as _

MAX_OUTPUT_CHARS = 10000
REOPEN_STAGE = "investigating"


def next_stage(stages: list[Stage], current: str) -> Stage | None:
    codes = [s.code for s in stages]
    if current not in codes:
        return None
    index = codes.index(current)
    return stages[index + 1] if index + 1 < len(stages) else None


def allowed_targets(stages: list[Stage], current: Stage) -> list[Stage]:
    """Where a complaint in ``current`` may go: the next stage, then the listed way back."""
    following = next_stage(stages, current.code)
    back = [s for s in stages if s.code in current.back_to]
    return ([following] if following else []) + back


def transition(
    session: Session,
    clock: Clock,
    actor: Actor,
    complaint: Complaint,
    to: str,
    version: int | None,
    outputs: dict[str, Any],
    comment: str | None = None,
    message: str | None = None,
) -> Stage:
    """Moves ``complaint`` to stage ``to``, checking the path, the role and the outputs."""
    check_version(complaint, version)
    stages = active_stages(session)
    by_code = {s.code: s for s in stages}
    target = by_code.get(to)
    if target is None:
        raise InvalidInput(_("没有这个阶段：%(stage)s") % {"stage": to}, field="to")
    current = by_code.get(complaint.stage)
    if current is None:
        raise Conflict(_("当前阶段 %(stage)s 已停用") % {"stage": complaint.stage})
    if target.code == current.code:
        raise Conflict(_("投诉已处于「%(stage)s」") % {"stage": _(current.name)}, field="to")
    targets = allowed_targets(stages, current)
    if target not in targets:
        options = _("、").join(f"{_(s.name)}({s.code})" for s in targets) or _("无")
        raise Conflict(
            _("不能从「%(from)s」直接转到「%(to)s」；可转到：%(options)s")
            % {"from": _(current.name), "to": _(target.name), "options": options},
            field="to",
            code="illegal_transition",
        )
    forward = target.position > current.position
    if actor.kind == "user":
        _check_role(actor, current)
    clean = _check_outputs(current, outputs, required=forward)
    _enter(complaint, target, clock.now())
    complaint.outputs = {**complaint.outputs, **clean}
    if message and complaint.first_response_at is None:
        complaint.first_response_at = clock.now()
    data: dict[str, Any] = {"from": current.code, "to": target.code, "outputs": clean}
    if comment:
        data["comment"] = comment
    body = f"{current.name} → {target.name}" + (f"：{comment}" if comment else "")
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        EventKind.stage_changed,
        body=body,
        public=False,
        data=data,
        audit={"stage": [current.code, target.code], **clean},
    )
    if message:
        timeline.record(
            session, clock, actor, complaint, EventKind.message, body=message, public=True
        )
    return target


def _check_role(actor: Actor, current: Stage) -> None:
    role = actor.role or ""
    if not can(role, Permission.complaint_handle) or role not in current.allowed_roles:
        allowed = _("、").join(_role_name(r) for r in current.allowed_roles) or _("无")
        raise Forbidden(
            _("角色「%(role)s」不能处理「%(stage)s」阶段；允许：%(allowed)s")
            % {"role": _role_name(role), "stage": _(current.name), "allowed": allowed}
        )


def _role_name(role: str) -> str:
    try:
        return _(ROLE_LABELS[Role(role)])
    except ValueError:
        return role


def _output_label(spec: dict[str, Any]) -> str:
    english = current_locale() == "en" and spec.get("label_en")
    return str(english or spec.get("label") or spec.get("code"))


def _check_outputs(current: Stage, outputs: dict[str, Any], required: bool) -> dict[str, str]:
    known = {spec["code"]: spec for spec in current.required_outputs}
    clean: dict[str, str] = {}
    for key, value in outputs.items():
        if key not in known:
            raise InvalidInput(
                _("「%(stage)s」阶段没有输出项 %(key)s") % {"stage": _(current.name), "key": key},
                field=key,
            )
        if value is not None and not isinstance(value, str):
            raise InvalidInput(
                _("%(key)s 必须是文字") % {"key": _output_label(known[key])}, field=key
            )
        text = (value or "").strip()
        if len(text) > MAX_OUTPUT_CHARS:
            raise InvalidInput(
                _("%(key)s 太长，最多 %(max)d 字")
                % {"key": _output_label(known[key]), "max": MAX_OUTPUT_CHARS},
                field=key,
            )
        if text:
            clean[key] = text
    if required:
        for code, spec in known.items():
            if code not in clean:
                raise InvalidInput(
                    _("离开「%(stage)s」需要填写「%(output)s」")
                    % {"stage": _(current.name), "output": _output_label(spec)},
                    field=code,
                    code="output_required",
                )
    return clean


def _enter(complaint: Complaint, stage: Stage, now: datetime) -> None:
    complaint.stage = stage.code
    complaint.stage_entered_at = now
    complaint.updated_at = now
    category = StageCategory(stage.category)
    complaint.is_open = category != StageCategory.closed
    if not complaint.is_open:
        complaint.due_at = None  # otherwise the SLA clocks set it (kesu.sla.service.sync)
    if category in (StageCategory.resolved, StageCategory.closed) and complaint.resolved_at is None:
        complaint.resolved_at = now
    if category == StageCategory.closed:
        complaint.closed_at = now
    elif category in (StageCategory.open, StageCategory.waiting):
        complaint.resolved_at = None
        complaint.closed_at = None


def customer_respond(
    session: Session, clock: Clock, complaint: Complaint, accept: bool, comment: str | None
) -> Stage:
    """客户确认: the customer accepts the solution (forward) or rejects it (back to proposing)."""
    stages = active_stages(session)
    current = next((s for s in stages if s.code == complaint.stage), None)
    if current is None or current.category != StageCategory.waiting:
        raise Conflict(_("当前没有待您确认的方案"), code="not_confirming")
    customer = Actor("customer", None, complaint.customer.name)
    if accept:
        target = next_stage(stages, current.code)
    else:
        target = next((s for s in stages if s.code in current.back_to), None)
        if not (comment and comment.strip()):
            raise InvalidInput(_("请说明不接受方案的原因"), field="comment")
    if target is None:
        raise Conflict(_("流程未配置下一阶段"))
    kind = EventKind.customer_accepted if accept else EventKind.customer_rejected
    timeline.record(
        session,
        clock,
        customer,
        complaint,
        kind,
        public=True,
        body=("客户接受了方案" if accept else "客户不接受方案")
        + (f"：{comment}" if comment else ""),
        data={"solution": complaint.outputs.get("solution"), "comment": comment},
        audit={"accept": accept, "comment": comment},
    )
    transition(session, clock, customer, complaint, target.code, None, {}, comment=comment)
    return target


def reopen(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, reason: str, version: int
) -> None:
    """二次处理: a resolved or closed complaint goes back to investigation."""
    check_version(complaint, version)
    # The system reopens too: a low satisfaction score (kesu.surveys).
    if actor.kind != "system" and (
        actor.user is None or not can(actor.user.role, Permission.complaint_reopen)
    ):
        raise Forbidden(_("无权重新打开投诉"))
    if complaint.merged_into_id is not None:
        raise Conflict(_("已合并的投诉不能重新打开"))
    stages = active_stages(session)
    current = next((s for s in stages if s.code == complaint.stage), None)
    if current is None or current.category not in (StageCategory.resolved, StageCategory.closed):
        raise Conflict(
            _("只有已解决或已结案的投诉可以重新打开"),
            code="not_resolved",
        )
    target = next((s for s in stages if s.code == REOPEN_STAGE), None) or stages[0]
    _enter(complaint, target, clock.now())
    complaint.reopen_count += 1
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        EventKind.reopened,
        public=True,
        body=f"重新打开（二次处理）：{reason}",
        data={"from": current.code, "to": target.code, "reason": reason},
        audit={"stage": [current.code, target.code], "reason": reason},
    )
