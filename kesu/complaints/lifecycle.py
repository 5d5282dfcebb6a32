"""The closed loop: moving a complaint between stages, customer confirmation, reopening.

The stages are data (``stages`` table). A complaint moves forward one stage at a time, or back
to a stage listed in its current stage's ``back_to``; skipping is refused. Leaving a stage
needs the role it allows and the outputs it requires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.enums import EventKind, StageCategory
from kesu.complaints.models import Complaint, Stage
from kesu.complaints.service import check_version
from kesu.errors import Conflict, Forbidden, InvalidInput
from kesu.taxonomy.service import active_stages

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
        raise InvalidInput(f"没有这个阶段: {to} (unknown stage)", field="to")
    current = by_code.get(complaint.stage)
    if current is None:
        raise Conflict(f"当前阶段 {complaint.stage} 已停用 (current stage is disabled)")
    if target.code == current.code:
        raise Conflict(f"投诉已处于「{current.name}」(already in stage {current.code})", field="to")
    targets = allowed_targets(stages, current)
    if target not in targets:
        options = "、".join(f"{s.name}({s.code})" for s in targets) or "无"
        raise Conflict(
            f"不能从「{current.name}」直接转到「{target.name}」；可转到：{options} "
            f"(illegal move {current.code} → {target.code})",
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
    data = {"from": current.code, "to": target.code, "outputs": clean}
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
        allowed = "、".join(current.allowed_roles) or "无"
        raise Forbidden(
            f"角色 {role} 不能处理「{current.name}」阶段；允许：{allowed} "
            f"(role {role} may not act on stage {current.code})"
        )


def _check_outputs(current: Stage, outputs: dict[str, Any], required: bool) -> dict[str, str]:
    known = {spec["code"]: spec for spec in current.required_outputs}
    clean: dict[str, str] = {}
    for key, value in outputs.items():
        if key not in known:
            raise InvalidInput(f"「{current.name}」阶段没有输出项 {key} (unknown field)", field=key)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{key} 必须是文字 (must be text)", field=key)
        text = (value or "").strip()
        if len(text) > MAX_OUTPUT_CHARS:
            raise InvalidInput(f"{key} 太长 (at most {MAX_OUTPUT_CHARS} characters)", field=key)
        if text:
            clean[key] = text
    if required:
        for code, spec in known.items():
            if code not in clean:
                raise InvalidInput(
                    f"离开「{current.name}」需要填写「{spec['label']}」({code} is required)",
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
        raise Conflict("当前没有待您确认的方案 (nothing to confirm now)", code="not_confirming")
    customer = Actor("customer", None, complaint.customer.name)
    if accept:
        target = next_stage(stages, current.code)
    else:
        target = next((s for s in stages if s.code in current.back_to), None)
        if not (comment and comment.strip()):
            raise InvalidInput("请说明不接受方案的原因 (tell us why)", field="comment")
    if target is None:
        raise Conflict("流程未配置下一阶段 (no stage to go to)")
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
        data={"solution": complaint.outputs.get("solution")},
        audit={"accept": accept, "comment": comment},
    )
    transition(session, clock, customer, complaint, target.code, None, {}, comment=comment)
    return target


def reopen(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, reason: str, version: int
) -> None:
    """二次处理: a resolved or closed complaint goes back to investigation."""
    check_version(complaint, version)
    if actor.user is None or not can(actor.user.role, Permission.complaint_reopen):
        raise Forbidden("无权重新打开投诉 (may not reopen)")
    if complaint.merged_into_id is not None:
        raise Conflict("已合并的投诉不能重新打开 (merged complaints stay closed)")
    stages = active_stages(session)
    current = next((s for s in stages if s.code == complaint.stage), None)
    if current is None or current.category not in (StageCategory.resolved, StageCategory.closed):
        raise Conflict(
            "只有已解决或已结案的投诉可以重新打开 (only resolved or closed ones)",
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
