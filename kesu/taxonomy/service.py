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
from kesu.web.i18n import N_, current_locale
from kesu.web.i18n import gettext as _

MAX_LEVEL = 3
# The kinds of custom field, and what the admin pages call them.
FIELD_TYPES = {
    "text": N_("文本"),
    "textarea": N_("多行文本"),
    "number": N_("数字"),
    "date": N_("日期"),
    "select": N_("下拉选择"),
    "boolean": N_("复选框"),
}


def resolve_category(session: Session, ref: str | int) -> Category:
    """A category by id or by path (``产品质量/包装破损/外箱压坏``)."""
    text = str(ref).strip()
    category = (
        session.get(Category, int(text))
        if text.isascii() and text.isdigit() and len(text) < 10  # not "¹", nor 20 digits
        else session.scalar(select(Category).where(Category.path == text.strip("/")))
    )
    if category is None or not category.is_active:
        raise InvalidInput(_("没有这个分类：%(ref)s") % {"ref": text[:100]}, field="category")
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
    name = _check_name(name)
    if default_severity:
        _check_severity(default_severity)
    parent = session.get(Category, parent_id) if parent_id else None
    if parent_id and parent is None:
        raise InvalidInput(_("没有这个上级分类：%(id)s") % {"id": parent_id}, field="parent_id")
    level = parent.level + 1 if parent else 1
    if level > MAX_LEVEL:
        raise InvalidInput(_("分类最多三级"), field="parent_id")
    path = f"{parent.path}/{name}" if parent else name
    if session.scalar(select(Category.id).where(Category.path == path)):
        raise Conflict(_("分类已存在：%(path)s") % {"path": path}, field="name")
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
    config_cache.clear()  # the pickers' category list (kesu.workbench.page.category_choices)
    return category


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or "/" in name or len(name) > 64:
        raise InvalidInput(_("分类名称不能为空、不能含 /，最多 64 个字符"), field="name")
    return name


def _subtree(session: Session, category: Category) -> list[Category]:
    """The category and everything below it (active or not), shallowest first."""
    prefix = category.path + "/"
    return list(
        session.scalars(
            select(Category)
            .where((Category.id == category.id) | Category.path.startswith(prefix, autoescape=True))
            .order_by(Category.level, Category.id)
        )
    )


def _repath(session: Session, category: Category, parent: Category | None, name: str) -> None:
    """Gives the category a new parent and/or name, rewriting the paths and levels below it.
    Complaints point at categories by id, so they stay attached."""
    old_path = category.path
    new_path = f"{parent.path}/{name}" if parent else name
    if new_path != old_path and session.scalar(
        select(Category.id).where(Category.path == new_path)
    ):
        raise Conflict(_("分类已存在：%(path)s") % {"path": new_path}, field="name")
    shift = (parent.level + 1 if parent else 1) - category.level
    nodes = [(node, node.path) for node in _subtree(session, category)]
    # Paths are unique: park the subtree on temporary paths first, so renaming A→B and B's old
    # children never collide half-way through the UPDATEs.
    for node, _old in nodes:
        node.path = f"~moving~{node.id}"
    session.flush()
    for node, path in nodes:
        node.path = new_path + path[len(old_path) :]
        node.level += shift
    category.parent_id = parent.id if parent else None
    category.name = name


def get_category(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(_("没有这个分类：%(ref)s") % {"ref": category_id}, field="category_id")
    return category


def update_category(
    session: Session,
    clock: Clock,
    actor: Actor,
    category_id: int,
    *,
    name: str | None = None,
    name_en: str | None = None,
    parent_id: int | str | None = "keep",
) -> Category:
    """Renames a category (Chinese and English) and/or moves it under another parent (or to
    the top with ``parent_id=None``), keeping the 3-level limit; audited."""
    category = get_category(session, category_id)
    new_name = _check_name(name) if name is not None else category.name
    if name_en is not None and len(name_en) > 128:
        raise InvalidInput(_("英文名称最多 128 个字符"), field="name_en")
    parent = category.parent
    if parent_id != "keep":
        parent = session.get(Category, int(parent_id)) if parent_id is not None else None
        if parent_id is not None and (parent is None or not parent.is_active):
            raise InvalidInput(_("没有这个上级分类：%(id)s") % {"id": parent_id}, field="parent_id")
        nodes = _subtree(session, category)
        if parent is not None and parent.id in {n.id for n in nodes}:
            raise InvalidInput(_("不能移到自己或自己的下级分类之下"), field="parent_id")
        depth = max(n.level for n in nodes) - category.level
        if (parent.level if parent else 0) + 1 + depth > MAX_LEVEL:
            raise InvalidInput(
                _("移动后会超过三级分类（该分类下还有 %(n)d 级）") % {"n": depth},
                field="parent_id",
            )
    before = {"path": category.path, "name_en": category.name_en}
    if new_name != category.name or (parent.id if parent else None) != category.parent_id:
        _repath(session, category, parent, new_name)
    if name_en is not None:
        category.name_en = name_en.strip()
    after = {"path": category.path, "name_en": category.name_en}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        session.flush()
        record_audit(session, clock, actor, "category.update", "category", category.id, changes)
        config_cache.clear()
    return category


def path_references(session: Session, path: str) -> list[str]:
    """What still names a category by its old path after a rename or move: routing rules and
    SLA policies whose conditions mention it, and the active triage model (its labels are
    paths). Complaints are attached by id and need nothing."""
    from kesu.routing.models import RoutingRule
    from kesu.sla.models import SlaPolicy
    from kesu.triage.models import TriageModel

    def mentions(value: Any) -> bool:
        if isinstance(value, str):
            return value == path or value.startswith(path + "/")
        if isinstance(value, dict):
            return any(mentions(v) for v in value.values())
        if isinstance(value, list):
            return any(mentions(v) for v in value)
        return False

    found = [
        _("分配规则「%(name)s」") % {"name": r.name}
        for r in session.scalars(select(RoutingRule).order_by(RoutingRule.position))
        if mentions(r.conditions)
    ]
    found += [
        _("时限策略「%(name)s」") % {"name": p.name}
        for p in session.scalars(select(SlaPolicy).order_by(SlaPolicy.position))
        if mentions(p.conditions)
    ]
    model = session.scalar(
        select(TriageModel).where(TriageModel.kind == "category", TriageModel.status == "active")
    )
    if model is not None and mentions(model.labels):
        found.append(_("智能分诊模型（需要重新训练）"))
    return found


def deactivate_category(session: Session, clock: Clock, actor: Actor, category_id: int) -> None:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(_("没有这个分类：%(ref)s") % {"ref": category_id}, field="category_id")
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
    config_cache.clear()


def _check_severity(value: str) -> None:
    try:
        Severity(value)
    except ValueError:
        raise InvalidInput(
            _("未知的严重程度：%(value)s") % {"value": value}, field="severity"
        ) from None


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
        raise NotFound(_("没有这个阶段：%(code)s") % {"code": code}, field="stage")
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
            raise InvalidInput(_("不能修改字段 %(field)s") % {"field": key}, field=key)
        if (
            key == "time_limit_minutes"
            and value is not None
            and (not isinstance(value, int) or value <= 0)
        ):
            raise InvalidInput(_("时限必须是正整数分钟"), field=key)
        if key == "allowed_roles":
            for role in value:
                if role not in Role.__members__:
                    raise InvalidInput(_("未知的角色：%(role)s") % {"role": role}, field=key)
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
        raise InvalidInput(_("每个输出项需要代码和名称"), field="required_outputs")
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
                _("未知的自定义字段：%(code)s") % {"code": str(code)[:64]},
                field=f"custom_fields.{code}",
            )
        if value in (None, ""):
            continue
        clean[code] = _coerce(spec, value)
    for spec in fields.values():
        if spec.required and spec.code not in clean:
            raise InvalidInput(
                _("请填写「%(label)s」") % {"label": _field_label(spec)},
                field=f"custom_fields.{spec.code}",
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
            _("「%(label)s」格式不对，应为%(kind)s")
            % {"label": _field_label(spec), "kind": _(FIELD_TYPES.get(kind, kind))},
            field=where,
        ) from None
    text = str(value).strip()
    if kind == "select" and text not in spec.options:
        raise InvalidInput(
            _("「%(label)s」只能是 %(options)s")
            % {"label": _field_label(spec), "options": "/".join(spec.options)},
            field=where,
        )
    if len(text) > 2000:
        raise InvalidInput(
            _("「%(label)s」最多 2000 个字符") % {"label": _field_label(spec)}, field=where
        )
    return text


def _field_label(spec: FormField) -> str:
    return (spec.label_en or spec.label) if current_locale() == "en" else spec.label


FORM_FIELD_EDITABLE = (
    "label",
    "label_en",
    "field_type",
    "options",
    "required",
    "public",
    "sort",
    "is_active",
)


def get_form_field(session: Session, field_id: int) -> FormField:
    field = session.get(FormField, field_id)
    if field is None:
        raise NotFound(_("没有这个表单字段：%(id)s") % {"id": field_id}, field="id")
    return field


def _check_form_field(values: dict[str, Any]) -> dict[str, Any]:
    label = str(values.get("label", "")).strip()
    if not label or len(label) > 128:
        raise InvalidInput(_("请填写字段名称（最多 128 个字符）"), field="label")
    values["label"] = label
    if len(str(values.get("label_en", ""))) > 128:
        raise InvalidInput(_("英文名称最多 128 个字符"), field="label_en")
    if values.get("field_type") not in FIELD_TYPES:
        raise InvalidInput(_("请选择字段类型"), field="field_type")
    options = [str(o).strip() for o in values.get("options") or [] if str(o).strip()]
    if values["field_type"] == "select":
        if not options:
            raise InvalidInput(_("下拉选择需要至少一个选项"), field="options")
        if len(options) > 100 or any(len(o) > 128 for o in options):
            raise InvalidInput(_("最多 100 个选项，每个最多 128 个字符"), field="options")
        if len(set(options)) != len(options):
            raise InvalidInput(_("选项不能重复"), field="options")
    else:
        options = []
    values["options"] = options
    if values.get("required") and not values.get("public", True):
        # The public form shows only public fields: a hidden required one would refuse every
        # customer's submission.
        raise InvalidInput(
            _("必填字段需要同时显示在公开投诉表单上，否则客户无法提交"), field="required"
        )
    sort = values.get("sort", 0)
    if isinstance(sort, bool) or not isinstance(sort, int) or not 0 <= sort <= 1_000_000:
        raise InvalidInput(_("顺序必须是 0–1000000 的整数"), field="sort")
    return values


def create_form_field(
    session: Session, clock: Clock, actor: Actor, code: str, values: dict[str, Any]
) -> FormField:
    """A new custom field of the complaint form (shown on the staff forms; on the public form
    too when ``public``). Its code is the key in ``complaints.custom_fields``."""
    code = code.strip()
    if not code.isidentifier() or not code.isascii() or len(code) > 64:
        raise InvalidInput(_("字段代码只能包含英文字母、数字和 _，且不能以数字开头"), field="code")
    if session.scalar(select(FormField.id).where(FormField.code == code)):
        raise Conflict(_("字段代码已存在：%(code)s") % {"code": code}, field="code")
    values = _check_form_field(dict(values))
    field = FormField(code=code, **{k: values[k] for k in FORM_FIELD_EDITABLE if k in values})
    session.add(field)
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "form_field.create",
        "form_field",
        code,
        {k: values[k] for k in FORM_FIELD_EDITABLE if k in values},
    )
    config_cache.clear()
    return field


def update_form_field(
    session: Session, clock: Clock, actor: Actor, field: FormField, changes: dict[str, Any]
) -> FormField:
    unknown = set(changes) - set(FORM_FIELD_EDITABLE)
    if unknown:
        key = sorted(unknown)[0]
        raise InvalidInput(_("不能修改字段 %(field)s") % {"field": key}, field=key)
    current = {k: getattr(field, k) for k in FORM_FIELD_EDITABLE}
    values = _check_form_field({**current, **changes})
    diff = {k: [current[k], values[k]] for k in FORM_FIELD_EDITABLE if current[k] != values[k]}
    for key, (_old, new) in diff.items():
        setattr(field, key, new)
    if diff:
        session.flush()
        record_audit(session, clock, actor, "form_field.update", "form_field", field.code, diff)
        config_cache.clear()
    return field
