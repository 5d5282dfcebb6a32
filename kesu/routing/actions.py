"""What a rule does when it fires: validated action specs (pydantic) and their descriptions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from kesu.errors import InvalidInput
from kesu.notify.recipients import check_targets
from kesu.notify.texts import events as template_events
from kesu.taxonomy.enums import SEVERITY_LABELS, Severity

CATEGORY_TEAM = "@category"  # assign: the team that owns the complaint's category


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Assign(_Action):
    """Assign to a team, and within it to a person by a strategy (or to a named user)."""

    type: Literal["assign"]
    team: str | None = Field(
        default=None, max_length=64, description='team code, or "@category": the category\'s team'
    )
    user: str | None = Field(default=None, max_length=64, description="username")
    strategy: Literal["none", "round_robin", "least_loaded", "skills"] = "round_robin"
    skills: list[str] = Field(default_factory=list, max_length=10)
    # Leave complaints that already have an assignee alone (no reassignment without a person).
    only_if_unassigned: bool = True

    @field_validator("user")
    @classmethod
    def _team_or_user(cls, value: str | None) -> str | None:
        return value or None


class SetSeverity(_Action):
    type: Literal["set_severity"]
    severity: Severity
    only_raise: bool = True  # never lowers a severity someone set higher


class SetPriority(_Action):
    type: Literal["set_priority"]
    priority: int = Field(ge=1, le=4)
    only_raise: bool = True  # 1 is the most urgent: never makes a complaint less urgent


class AddTag(_Action):
    type: Literal["add_tag"]
    tag: str = Field(min_length=1, max_length=32)


class Notify(_Action):
    type: Literal["notify"]
    to: list[str] = Field(min_length=1, max_length=10)
    template: str = "rule_notice"
    urgent: bool = False


class Escalate(_Action):
    type: Literal["escalate"]
    level: int = Field(ge=1, le=3)


class OpenIncident(_Action):
    type: Literal["open_incident"]
    title: str | None = Field(default=None, max_length=200)


class CreateSubtask(_Action):
    type: Literal["create_subtask"]
    team: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    due_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 60)


Action = Annotated[
    Assign | SetSeverity | SetPriority | AddTag | Notify | Escalate | OpenIncident | CreateSubtask,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[list[Action]] = TypeAdapter(list[Action])
TYPES = (
    "assign",
    "set_severity",
    "set_priority",
    "add_tag",
    "notify",
    "escalate",
    "open_incident",
    "create_subtask",
)


def parse(raw: Any, field: str = "actions") -> tuple[Action, ...]:
    """Validates a list of actions; a bad one is a 422 naming ``actions[i].field``."""
    if not isinstance(raw, list):
        raise InvalidInput("actions 必须是列表 (must be a list)", field=field)
    if len(raw) > 20:
        raise InvalidInput("动作太多 (at most 20 actions)", field=field)
    try:
        actions = _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"] if p not in TYPES)
        index, _, rest = where.partition(".")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            rest, message = "type", f"type 只能是 {', '.join(TYPES)}"
        else:
            message = str(error["msg"])
        path = f"{field}[{index}]" + (f".{rest}" if rest else "")
        raise InvalidInput(f"动作无效: {message} (invalid action)", field=path) from None
    for i, action in enumerate(actions):
        if isinstance(action, Assign) and not (action.team or action.user):
            raise InvalidInput("assign 需要 team 或 user (team or user)", field=f"{field}[{i}]")
        if isinstance(action, Notify):
            check_targets(action.to, f"{field}[{i}].to")
            if action.template not in template_events():
                raise InvalidInput(
                    f"没有模板 {action.template} (templates: {', '.join(template_events())})",
                    field=f"{field}[{i}].template",
                )
    return tuple(actions)


def to_json(actions: tuple[Action, ...]) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in actions]


def describe(action: Action) -> str:
    """One line in Chinese for the timeline and the dry run."""
    if isinstance(action, Assign):
        team = "分类所属团队" if action.team == CATEGORY_TEAM else f"团队 {action.team}"
        who = f"处理人 {action.user}" if action.user else team
        how = {"none": "", "round_robin": "（轮询）", "least_loaded": "（最少负载）"}.get(
            action.strategy, f"（技能 {'、'.join(action.skills)}）"
        )
        return f"分配给{who}{how if not action.user else ''}"
    if isinstance(action, SetSeverity):
        return f"严重程度设为 {SEVERITY_LABELS[action.severity]}"
    if isinstance(action, SetPriority):
        return f"优先级设为 {action.priority}"
    if isinstance(action, AddTag):
        return f"添加标签 {action.tag}"
    if isinstance(action, Notify):
        return f"通知 {'、'.join(action.to)}"
    if isinstance(action, Escalate):
        return f"升级至 {action.level} 级"
    if isinstance(action, OpenIncident):
        return "启动应急事件" + (f"「{action.title}」" if action.title else "")
    return f"创建协办任务「{action.title}」给 {action.team}"
