"""Categories (3 levels), stages and custom form fields: configuration as data."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints.models import Stage
from kesu.errors import Conflict, InvalidInput, NotFound
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.enums import Severity
from kesu.taxonomy.models import Category, FormField

MAX_LEVEL = 3


def resolve_category(session: Session, ref: str | int) -> Category:
    """A category by id or by path (``产品质量/包装破损/外箱压坏``)."""
    text = str(ref).strip()
    category = (
        session.get(Category, int(text))
        if text.isascii() and text.isdigit() and len(text) < 10  # not "¹", nor 20 digits
        else session.scalar(select(Category).where(Category.path == text.strip("/")))
    )
    if category is None or not category.is_active:
        raise InvalidInput(f"没有这个分类: {text} (unknown category)", field="category")
    return category


def category_tree(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).where(Category.is_active).order_by(Category.path)))


def create_category(
    session: Session,
    clock: Clock,
    actor: Actor,
    *,
    name: str,
    parent_id: int | None = None,
    name_en: str = "",
    default_severity: str | None = None,
    team_code: str | None = None,
) -> Category:
    name = name.strip()
    if not name or "/" in name or len(name) > 64:
        raise InvalidInput("分类名称不能为空、不能含 / (invalid category name)", field="name")
    if default_severity:
        _check_severity(default_severity)
    parent = session.get(Category, parent_id) if parent_id else None
    if parent_id and parent is None:
        raise InvalidInput(f"没有上级分类 {parent_id} (unknown parent)", field="parent_id")
    level = parent.level + 1 if parent else 1
    if level > MAX_LEVEL:
        raise InvalidInput("分类最多三级 (at most 3 levels)", field="parent_id")
    path = f"{parent.path}/{name}" if parent else name
    if session.scalar(select(Category.id).where(Category.path == path)):
        raise Conflict(f"分类已存在: {path} (category exists)", field="name")
    category = Category(
        parent_id=parent.id if parent else None,
        level=level,
        name=name,
        name_en=name_en,
        path=path,
        default_severity=default_severity,
        team_code=team_code,
        created_at=clock.now(),
    )
    session.add(category)
    session.flush()
    record_audit(session, clock, actor, "category.create", "category", category.id, {"path": path})
    return category


def deactivate_category(session: Session, clock: Clock, actor: Actor, category_id: int) -> None:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(f"没有这个分类: {category_id}", field="category_id")
    prefix = category.path + "/"
    for node in session.scalars(
        select(Category).where(
            (Category.id == category.id) | Category.path.startswith(prefix, autoescape=True)
        )
    ):
        node.is_active = False
    record_audit(
        session,
        clock,
        actor,
        "category.deactivate",
        "category",
        category.id,
        {"path": category.path},
    )


def _check_severity(value: str) -> None:
    try:
        Severity(value)
    except ValueError:
        raise InvalidInput(f"未知严重程度: {value} (unknown severity)", field="severity") from None


# ---- stages -------------------------------------------------------------------------------


def active_stages(session: Session) -> list[Stage]:
    """The active stages in order (cached for a few seconds; detached rows)."""
    return config_cache.cached(
        session,
        "stages",
        lambda: list(
            session.scalars(select(Stage).where(Stage.is_active).order_by(Stage.position))
        ),
    )


def get_stage(session: Session, code: str) -> Stage:
    stage = session.get(Stage, code)
    if stage is None:
        raise NotFound(f"没有这个阶段: {code} (unknown stage)", field="stage")
    return stage


STAGE_EDITABLE = (
    "name",
    "name_en",
    "public_name",
    "time_limit_minutes",
    "allowed_roles",
    "required_outputs",
    "back_to",
)


def update_stage(
    session: Session, clock: Clock, actor: Actor, code: str, changes: dict[str, Any]
) -> Stage:
    from kesu.accounts.roles import Role

    stage = get_stage(session, code)
    diff: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in STAGE_EDITABLE:
            raise InvalidInput(f"不能修改字段 {key} (field not editable)", field=key)
        if (
            key == "time_limit_minutes"
            and value is not None
            and (not isinstance(value, int) or value <= 0)
        ):
            raise InvalidInput("时限必须是正整数分钟 (positive minutes)", field=key)
        if key == "allowed_roles":
            for role in value:
                if role not in Role.__members__:
                    raise InvalidInput(f"未知角色: {role} (unknown role)", field=key)
        if key == "back_to":
            for target in value:
                get_stage(session, target)
        if key == "required_outputs":
            value = [_output_spec(item) for item in value]
        diff[key] = [getattr(stage, key), value]
        setattr(stage, key, value)
    record_audit(session, clock, actor, "stage.update", "stage", code, diff)
    session.flush()
    config_cache.clear()
    return stage


def _output_spec(item: Any) -> dict[str, str]:
    if isinstance(item, str):
        item = {"code": item, "label": item}
    if not isinstance(item, dict) or not str(item.get("code", "")).isidentifier():
        raise InvalidInput(
            "输出项需要 code 和 label (output needs code and label)", field="required_outputs"
        )
    return {
        "code": str(item["code"]),
        "label": str(item.get("label") or item["code"]),
        "label_en": str(item.get("label_en", "")),
    }


# ---- custom form fields -------------------------------------------------------------------


def active_form_fields(session: Session) -> list[FormField]:
    """The active custom fields in order (cached for a few seconds; detached rows)."""
    return config_cache.cached(
        session,
        "form_fields",
        lambda: list(
            session.scalars(
                select(FormField).where(FormField.is_active).order_by(FormField.sort, FormField.id)
            )
        ),
    )


def validate_custom_fields(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """Checks submitted custom fields against the admin's definitions; returns clean values."""
    fields = {f.code: f for f in active_form_fields(session)}
    clean: dict[str, Any] = {}
    for code, value in values.items():
        spec = fields.get(code)
        if spec is None:
            raise InvalidInput(
                f"未知的自定义字段: {code} (unknown custom field)", field=f"custom_fields.{code}"
            )
        if value in (None, ""):
            continue
        clean[code] = _coerce(spec, value)
    for spec in fields.values():
        if spec.required and spec.code not in clean:
            raise InvalidInput(
                f"请填写 {spec.label} ({spec.code} is required)", field=f"custom_fields.{spec.code}"
            )
    return clean


def _coerce(spec: FormField, value: Any) -> Any:
    where = f"custom_fields.{spec.code}"
    kind = spec.field_type
    try:
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            return float(value) if "." in str(value) else int(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes", "on"):
                return True
            if str(value).lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind == "date":
            return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(
            f"{spec.label} 格式不对 ({spec.code} must be a {kind})", field=where
        ) from None
    text = str(value).strip()
    if kind == "select" and text not in spec.options:
        raise InvalidInput(f"{spec.label} 只能是 {'/'.join(spec.options)}", field=where)
    if len(text) > 2000:
        raise InvalidInput(f"{spec.label} 太长 (at most 2000 characters)", field=where)
    return text
