"""What a rule does when it fires: validated action specs (pydantic) and their descriptions."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from kesu.errors import InvalidInput
from kesu.notify.recipients import check_targets
from kesu.notify.texts import events as template_events
from kesu.taxonomy.enums import SEVERITY_LABELS, Severity
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

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
MAX_ACTIONS = 20
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
        raise InvalidInput(_("动作必须是列表"), field=field)
    if len(raw) > MAX_ACTIONS:
        raise InvalidInput(_("动作太多（最多 %(n)d 个）") % {"n": MAX_ACTIONS}, field=field)
    try:
        actions = _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"] if p not in TYPES)
        index, _dot, rest = where.partition(".")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            rest, message = "type", _("类型只能是 %(types)s") % {"types": ", ".join(TYPES)}
        else:
            message = _reason(error["type"], error.get("ctx") or {})
        path = f"{field}[{index}]" + (f".{rest}" if rest else "")
        raise InvalidInput(_("动作无效：%(reason)s") % {"reason": message}, field=path) from None
    for i, action in enumerate(actions):
        if isinstance(action, Assign) and not (action.team or action.user):
            raise InvalidInput(_("分配动作需要团队或处理人"), field=f"{field}[{i}]")
        if isinstance(action, Notify):
            check_targets(action.to, f"{field}[{i}].to")
            if action.template not in template_events():
                raise InvalidInput(
                    _("没有模板 %(name)s（可用：%(names)s）")
                    % {"name": action.template, "names": ", ".join(template_events())},
                    field=f"{field}[{i}].template",
                )
    return tuple(actions)


def _reason(kind: str, ctx: dict[str, Any]) -> str:
    """A pydantic error type in the caller's language (pydantic's own messages are English)."""
    if kind == "missing":
        return _("缺少必填参数")
    if kind == "extra_forbidden":
        return _("未知参数")
    if kind in ("literal_error", "enum"):
        return _("只能是 %(values)s") % {"values": str(ctx.get("expected", "")).replace("'", "")}
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("必须是整数")
    if kind in ("bool_parsing", "bool_type"):
        return _("必须是 true 或 false")
    if kind in ("greater_than_equal", "greater_than"):
        return _("不能小于 %(n)s") % {"n": ctx.get("ge", ctx.get("gt", ""))}
    if kind in ("less_than_equal", "less_than"):
        return _("不能大于 %(n)s") % {"n": ctx.get("le", ctx.get("lt", ""))}
    if kind == "string_too_short":
        return _("不能为空")
    if kind == "string_too_long":
        return _("太长（最多 %(n)s 个字符）") % {"n": ctx.get("max_length", "")}
    if kind == "too_short":
        return _("至少需要 %(n)s 项") % {"n": ctx.get("min_length", "")}
    if kind == "too_long":
        return _("最多 %(n)s 项") % {"n": ctx.get("max_length", "")}
    if kind == "string_type":
        return _("必须是文字")
    if kind == "list_type":
        return _("必须是列表")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _("每个动作必须是对象")
    return _("值无效")


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


# -- the catalog: action types and their parameters, for the rule editor --------------------

TYPE_LABELS: dict[str, str] = {
    "assign": N_("分配"),
    "set_severity": N_("设置严重程度"),
    "set_priority": N_("设置优先级"),
    "add_tag": N_("添加标签"),
    "notify": N_("通知"),
    "escalate": N_("升级"),
    "open_incident": N_("启动应急事件"),
    "create_subtask": N_("创建协办任务"),
}
PARAM_LABELS: dict[str, str] = {
    "team": N_("团队"),
    "user": N_("处理人（用户名）"),
    "strategy": N_("分配方式"),
    "skills": N_("所需技能"),
    "only_if_unassigned": N_("只分配尚无处理人的投诉"),
    "severity": N_("严重程度"),
    "only_raise": N_("只升不降"),
    "priority": N_("优先级（1 最紧急）"),
    "tag": N_("标签"),
    "to": N_("通知对象"),
    "template": N_("模板"),
    "urgent": N_("紧急"),
    "level": N_("级别"),
    "title": N_("标题"),
    "due_minutes": N_("时限（分钟）"),
}
OPTION_LABELS: dict[str, str] = {
    "none": N_("只分配到团队"),
    "round_robin": N_("轮询"),
    "least_loaded": N_("最少负载"),
    "skills": N_("按技能"),
    CATEGORY_TEAM: N_("分类所属团队"),
}
_MODELS: dict[str, type[_Action]] = {
    "assign": Assign,
    "set_severity": SetSeverity,
    "set_priority": SetPriority,
    "add_tag": AddTag,
    "notify": Notify,
    "escalate": Escalate,
    "open_incident": OpenIncident,
    "create_subtask": CreateSubtask,
}


def _param_kind(name: str, annotation: Any) -> tuple[str, list[str] | None]:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if annotation is bool:
        return "bool", None
    if get_origin(annotation) is Literal:
        return "enum", [str(a) for a in get_args(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Severity):
        return "enum", [s.value for s in Severity]
    if name == "template":
        return "enum", list(template_events())
    if name == "team":
        return "team", None
    if annotation is int or args == [int]:
        return "number", None
    if get_origin(annotation) is list:
        return "list", None
    return "text", None


def _option_label(value: str) -> str:
    if value in OPTION_LABELS:
        return _(OPTION_LABELS[value])
    if value in Severity.__members__:
        return _(SEVERITY_LABELS[Severity(value)])
    return value


def catalog() -> list[dict[str, Any]]:
    """Each action type with its parameters: name, label, kind (text, number, bool, list,
    enum with options, team), whether it is required and its default."""
    from pydantic_core import PydanticUndefined

    types = []
    for kind, model in _MODELS.items():
        params = []
        for name, info in model.model_fields.items():
            if name == "type":
                continue
            param_kind, options = _param_kind(name, info.annotation)
            default = None if info.default is PydanticUndefined else info.default
            entry: dict[str, Any] = {
                "name": name,
                "label": _(PARAM_LABELS.get(name, name)),
                "kind": param_kind,
                "required": info.is_required(),
                "default": default.value if isinstance(default, Severity) else default,
            }
            if options is not None:
                entry["options"] = [{"value": o, "label": _option_label(o)} for o in options]
            params.append(entry)
        types.append({"type": kind, "label": _(TYPE_LABELS[kind]), "params": params})
    return types
