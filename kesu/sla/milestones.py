"""The milestones an SLA policy can target, and what starts and stops each one.

These are the definitions docs/sla.md explains; they read only the complaint's own columns and
its stage, so every start and stop is visible on the timeline that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kesu.complaints.enums import StageCategory
from kesu.complaints.models import Complaint, Stage


@dataclass(frozen=True)
class Milestone:
    code: str
    name: str
    name_en: str
    # "received": from the complaint's arrival (or from a reopen); "resolved": from resolution.
    starts: str
    # Met on first reaching this stage or a later one; None: see ``met_at``.
    until_stage: str | None
    # A new clock (cycle) after each reopen (二次处理).
    restarts_on_reopen: bool
    escalates: bool = True  # levels 2 and 3 beyond the breach


FIRST_RESPONSE = "first_response"
CLASSIFICATION = "classification"
SOLUTION = "solution"
RESOLUTION = "resolution"
FOLLOW_UP = "follow_up"
STAGE = "stage"

MILESTONES: dict[str, Milestone] = {
    m.code: m
    for m in (
        Milestone(FIRST_RESPONSE, "首次响应", "First response", "received", None, False),
        Milestone(CLASSIFICATION, "分类评估", "Classification", "received", "proposing", False),
        Milestone(SOLUTION, "方案制定", "Solution", "received", "confirming", True),
        Milestone(RESOLUTION, "解决", "Resolution", "received", None, True),
        Milestone(FOLLOW_UP, "回访", "Follow-up", "resolved", "archived", True),
        # The current stage's own time limit (stages.time_limit_minutes); reset on every move.
        Milestone(STAGE, "阶段时限", "Stage time limit", "stage", None, False, escalates=False),
    )
}
POLICY_MILESTONES = tuple(code for code in MILESTONES if code != STAGE)


def label(code: str, locale: str = "zh_CN") -> str:
    milestone = MILESTONES.get(code)
    if milestone is None:
        return code
    return milestone.name_en if locale.startswith("en") else milestone.name


def met_at(
    milestone: Milestone,
    complaint: Complaint,
    stage: Stage | None,
    stages: dict[str, Stage],
    until_stage: str | None,
    now: datetime,
) -> datetime | None:
    """When the milestone was met, if it is met in the complaint's current state.

    Called on every change, so "now" is the moment the change happened (the stage move that
    reached ``until_stage``, say); an already-met clock keeps its first ``met_at``.
    """
    category = StageCategory(stage.category) if stage else StageCategory.open
    if milestone.code == FIRST_RESPONSE:
        return complaint.first_response_at
    if milestone.code == RESOLUTION:
        if category in (StageCategory.resolved, StageCategory.closed):
            return complaint.resolved_at or now
        return None
    if milestone.code == FOLLOW_UP and category == StageCategory.closed:
        return complaint.closed_at or now
    target = stages.get(until_stage or milestone.until_stage or "")
    if stage is not None and target is not None and stage.position >= target.position:
        return now
    if milestone.code in (CLASSIFICATION, SOLUTION) and category in (
        StageCategory.resolved,
        StageCategory.closed,
    ):
        return complaint.resolved_at or now
    return None
