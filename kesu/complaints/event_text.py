"""Timeline events as sentences in the reader's language.

An event keeps its kind and structured ``data``; its stored ``body`` is the Chinese text
written when it happened. People's own words (notes, messages, customer messages) are shown as
written. Every other event is rendered here from its data, in the reader's language, so no
internal event code or English field name reaches a Chinese page and no Chinese sentence
reaches an English one. An event whose data is too old or too thin to render falls back to
its stored text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.complaints.models import ComplaintEvent, Stage
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.models import Category
from kesu.web.i18n import N_, current_locale
from kesu.web.i18n import gettext as _

# What each kind of event is called, shown above the sentence.
KIND_LABELS: dict[str, str] = {
    "created": N_("受理"),
    "repeat_detected": N_("重复投诉"),
    "assigned": N_("分配"),
    "stage_changed": N_("阶段变更"),
    "note": N_("内部备注"),
    "message": N_("回复客户"),
    "customer_message": N_("客户留言"),
    "customer_accepted": N_("客户接受方案"),
    "customer_rejected": N_("客户不接受方案"),
    "reopened": N_("重新打开"),
    "merged": N_("合并"),
    "merged_into": N_("被合并"),
    "updated": N_("修改"),
    "rule_fired": N_("规则触发"),
    "triaged": N_("智能分诊"),
    "task_created": N_("新建任务"),
    "task_done": N_("任务完成"),
    "escalated": N_("升级"),
    "sla_warning": N_("时限预警"),
    "sla_breach": N_("超时"),
    "sla_level2": N_("二级升级"),
    "sla_level3": N_("三级升级"),
    "stage_overdue": N_("阶段超时"),
    "incident_opened": N_("启动应急事件"),
    "incident_linked": N_("关联应急事件"),
    "customer_merged": N_("合并客户档案"),
    "customer_anonymized": N_("删除个人信息"),
    "compensation_paid": N_("赔付已支付"),
    "attachment_added": N_("添加附件"),
    "survey_sent": N_("发送满意度评价"),
    "survey_answered": N_("满意度评价"),
    "survey_unrated": N_("未评价"),
    "compensation_requested": N_("申请赔付"),
    "compensation_decided": N_("赔付审批"),
}
GENERIC_KIND = N_("处理记录")

# The complaint's fields, as an edit names them.
FIELD_LABELS: dict[str, str] = {
    "category": N_("类别"),
    "severity": N_("严重程度"),
    "priority": N_("优先级"),
    "tags": N_("标签"),
    "title": N_("标题"),
    "content": N_("投诉内容"),
    "product": N_("产品"),
    "order_no": N_("订单号"),
    "order_value": N_("订单金额"),
    "remedy": N_("诉求"),
    "custom_fields": N_("自定义字段"),
    "team": N_("团队"),
    "assignee": N_("处理人"),
    "channel": N_("渠道"),
}

# System actors are stored with a Chinese label; shown translated.
SYSTEM_ACTORS: dict[str, str] = {
    "系统": N_("系统"),
    "智能分诊": N_("智能分诊"),
    "时限监控 SLA": N_("时限监控 SLA"),
    "客户": N_("客户"),
}

LEVELS = {0: N_("预警"), 1: N_("一级"), 2: N_("二级"), 3: N_("三级")}
TRIAGE_SOURCES = {"rule": N_("关键词规则"), "model": N_("模型"), "given": N_("提交时指定")}
AUTHORED = frozenset({"note", "message", "customer_message"})


@dataclass
class Context:
    """What rendering needs beyond the event: stage and category names."""

    stages: Mapping[str, Stage] = field(default_factory=dict)
    categories: Mapping[str, Category] = field(default_factory=dict)

    def stage(self, code: object) -> str:
        stage = self.stages.get(str(code))
        if stage is None:
            return str(code or "")
        return (
            (getattr(stage, "name_en", "") or _(stage.name))
            if current_locale() == "en"
            else stage.name
        )

    def category(self, path: object) -> str:
        if not path:
            return _("未分类")
        if current_locale() != "en":
            return str(path)
        names = []
        parts = str(path).split("/")
        for depth in range(1, len(parts) + 1):
            found = self.categories.get("/".join(parts[:depth]))
            names.append(found.name_en if found is not None and found.name_en else parts[depth - 1])
        return " / ".join(names)


def context(session: Session) -> Context:
    """Stage and category names (cached per process for a few seconds, like all config)."""
    stages = config_cache.cached(
        session, "all_stages", lambda: list(session.scalars(select(Stage).order_by(Stage.position)))
    )
    categories = config_cache.cached(
        session, "event_text_categories", lambda: list(session.scalars(select(Category)))
    )
    return Context({s.code: s for s in stages}, {c.path: c for c in categories})


def kind_label(kind: str) -> str:
    return _(KIND_LABELS.get(kind, GENERIC_KIND))


def actor_label(event: ComplaintEvent) -> str:
    if event.actor_kind == "system":
        label = event.actor_label or "系统"
        if label in SYSTEM_ACTORS:
            return _(SYSTEM_ACTORS[label])
        if label.startswith("规则「"):
            return _("规则「%(rule)s」") % {"rule": label[3:].rstrip("」")}
        return label
    if event.actor_kind == "customer":
        return _("客户")
    return event.actor_label


def describe(event: ComplaintEvent, ctx: Context) -> str:
    """The event as one sentence in the current language."""
    if event.kind in AUTHORED:
        return event.body
    render = _RENDERERS.get(event.kind)
    if render is None:
        return event.body
    try:
        return render(event.data or {}, ctx)
    except (KeyError, TypeError, ValueError, AttributeError):
        return event.body


def _with(sentence: str, extra: object) -> str:
    """``sentence：extra`` when there is an extra text (a reason, a comment)."""
    return (
        _("%(sentence)s：%(extra)s") % {"sentence": sentence, "extra": extra} if extra else sentence
    )


def _compensation_paid(d: dict[str, Any], ctx: Context) -> str:
    from kesu.compensation.ledger import words

    return _("赔付已支付：%(payout)s（支付凭证 %(reference)s）") % {
        "payout": words(d["method"], d["amount"]),
        "reference": d["reference"],
    }


def _customer_merged(d: dict[str, Any], ctx: Context) -> str:
    return _("客户档案 %(from)s 已合并到 %(into)s") % {"from": d["from"], "into": d["into"]}


def _created(d: dict[str, Any], ctx: Context) -> str:
    return _("投诉已受理，受理编号 %(number)s") % {"number": d["number"]}


def _repeat(d: dict[str, Any], ctx: Context) -> str:
    return _("重复投诉，关联 %(number)s") % {"number": d["repeat_of"]}


def _assigned(d: dict[str, Any], ctx: Context) -> str:
    who = d.get("who") or (d.get("to") or {}).get("assignee") or (d.get("to") or {}).get("team")
    if not who:
        return _with(_("已取消分配"), d.get("reason"))
    return _with(_("分配给 %(who)s") % {"who": who}, d.get("reason"))


def _stage(d: dict[str, Any], ctx: Context) -> str:
    if "from" not in d:
        return _("进入「%(to)s」阶段") % {"to": ctx.stage(d["to"])}
    sentence = _("从「%(from)s」进入「%(to)s」阶段") % {
        "from": ctx.stage(d["from"]),
        "to": ctx.stage(d["to"]),
    }
    return _with(sentence, d.get("comment"))


def _customer_accepted(d: dict[str, Any], ctx: Context) -> str:
    return _with(_("客户接受了方案"), d.get("comment"))


def _customer_rejected(d: dict[str, Any], ctx: Context) -> str:
    return _with(_("客户不接受方案"), d.get("comment"))


def _reopened(d: dict[str, Any], ctx: Context) -> str:
    return _with(_("重新打开（二次处理）"), d["reason"])


def _merged(d: dict[str, Any], ctx: Context) -> str:
    return _("合并了重复投诉 %(number)s") % {"number": d["duplicate"]}


def _merged_into(d: dict[str, Any], ctx: Context) -> str:
    return _with(_("已合并到 %(number)s") % {"number": d["into"]}, d.get("reason"))


def _updated(d: dict[str, Any], ctx: Context) -> str:
    changes = d["changes"]
    names = [_(FIELD_LABELS[name]) if name in FIELD_LABELS else name for name in changes]
    sentence = _("修改了 %(fields)s") % {"fields": _("、").join(names)}
    if "category" in changes and isinstance(changes, dict):
        new = changes["category"][1] if isinstance(changes["category"], list) else None
        sentence += _("（类别改为「%(category)s」）") % {"category": ctx.category(new)}
    return _with(sentence, d.get("reason"))


def _rule_fired(d: dict[str, Any], ctx: Context) -> str:
    sentence = _("规则「%(rule)s」触发") % {"rule": d["rule"]}
    actions = d.get("actions") or []
    return _with(sentence, _("；").join(str(a) for a in actions))


def _triaged(d: dict[str, Any], ctx: Context) -> str:
    parts = []
    source = d.get("source")
    if source in ("rule", "model") and d.get("category"):
        parts.append(
            _("自动分类为「%(category)s」（%(source)s，置信度 %(confidence)s）")
            % {
                "category": ctx.category(d["category"]),
                "source": _(TRIAGE_SOURCES[source]),
                "confidence": f"{float(d.get('confidence') or 0):.0%}",
            }
        )
    if d.get("risk_level"):
        parts.append(_("风险等级 %(level)s") % {"level": d["risk_level"]})
    if not parts:
        raise ValueError("nothing to say")
    return _("；").join(parts)


def _task_created(d: dict[str, Any], ctx: Context) -> str:
    return _("新建任务「%(title)s」") % {"title": d["title"]}


def _task_done(d: dict[str, Any], ctx: Context) -> str:
    if d.get("title"):
        return _("任务「%(title)s」已完成") % {"title": d["title"]}
    return _("任务 #%(id)s 已完成") % {"id": d["task"]}


def _escalated(d: dict[str, Any], ctx: Context) -> str:
    level = _(LEVELS[int(d["level"])])
    return _with(_("升级至%(level)s") % {"level": level}, d.get("reason"))


def _milestone(d: dict[str, Any]) -> str:
    from kesu.sla.milestones import label

    return label(str(d["milestone"]), current_locale())


def _due(d: dict[str, Any]) -> str:
    from datetime import datetime

    from kesu.web.templating import localtime

    return localtime(datetime.fromisoformat(str(d["deadline"])))


def _sla_warning(d: dict[str, Any], ctx: Context) -> str:
    return _("%(milestone)s即将到期：时限 %(due)s") % {"milestone": _milestone(d), "due": _due(d)}


def _sla_escalation(d: dict[str, Any], ctx: Context) -> str:
    return _("%(milestone)s已超时（时限 %(due)s），升级至%(level)s") % {
        "milestone": _milestone(d),
        "due": _due(d),
        "level": _(LEVELS[int(d["level"])]),
    }


def _stage_overdue(d: dict[str, Any], ctx: Context) -> str:
    return _("当前阶段已超过时限（%(due)s）") % {"due": _due(d)}


def _incident_opened(d: dict[str, Any], ctx: Context) -> str:
    return _("启动应急事件 #%(id)s") % {"id": d["incident"]}


def _incident_linked(d: dict[str, Any], ctx: Context) -> str:
    return _("关联应急事件 #%(id)s") % {"id": d["incident"]}


def _attachment_added(d: dict[str, Any], ctx: Context) -> str:
    names = "、".join(str(a["filename"]) for a in d["attachments"])
    return _("添加附件：%(files)s") % {"files": names}


def _survey_answered(d: dict[str, Any], ctx: Context) -> str:
    scores = d["scores"]
    sentence = _("处理时效 %(t)s 分，方案合理性 %(s)s 分，服务态度 %(a)s 分，推荐意愿 %(n)s 分") % {
        "t": scores["timeliness"],
        "s": scores["solution"],
        "a": scores["attitude"],
        "n": d["nps"],
    }
    if d.get("outcome") == "low":
        sentence += _("（低于 3 分，转二次处理）")
    return _with(sentence, d.get("comment"))


def _survey_sent(d: dict[str, Any], ctx: Context) -> str:
    by = {"email": _("邮件"), "sms": _("短信")}.get(str(d.get("channel") or ""))
    if by is None:
        return _("满意度评价已开放（客户未设置联系方式或已退订，未发送消息）")
    return _("满意度评价已通过%(channel)s发送给客户") % {"channel": by}


def _compensation_what(d: dict[str, Any]) -> str:
    from kesu.compensation.methods import METHODS

    method = str(d.get("method") or "")
    return _("%(method)s %(amount)s 元") % {
        "method": _(METHODS[method]) if method in METHODS else method,
        "amount": d["amount"],
    }


def _compensation_requested(d: dict[str, Any], ctx: Context) -> str:
    sentence = _("申请赔付：%(what)s") % {"what": _compensation_what(d)}
    if d.get("chain") == "fast":
        sentence += _("（快速理赔）")
    elif d.get("deviation"):
        sentence += _("（偏离推荐方案）")
    return _with(sentence, d.get("reason"))


def _compensation_decided(d: dict[str, Any], ctx: Context) -> str:
    what = _compensation_what(d)
    if d.get("status") == "approved":
        if d.get("chain") == "fast":
            return _("快速理赔已按规则批准：%(what)s") % {"what": what}
        return _("赔付已批准：%(what)s") % {"what": what}
    if d.get("status") == "cancelled":
        return _with(_("赔付申请已撤回：%(what)s") % {"what": what}, d.get("reason"))
    return _with(_("赔付被驳回：%(what)s") % {"what": what}, d.get("reason"))


_RENDERERS: dict[str, Callable[[dict[str, Any], Context], str]] = {
    "compensation_paid": _compensation_paid,
    "created": _created,
    "repeat_detected": _repeat,
    "assigned": _assigned,
    "stage_changed": _stage,
    "customer_accepted": _customer_accepted,
    "customer_rejected": _customer_rejected,
    "reopened": _reopened,
    "merged": _merged,
    "merged_into": _merged_into,
    "updated": _updated,
    "rule_fired": _rule_fired,
    "triaged": _triaged,
    "task_created": _task_created,
    "task_done": _task_done,
    "escalated": _escalated,
    "sla_warning": _sla_warning,
    "sla_breach": _sla_escalation,
    "sla_level2": _sla_escalation,
    "sla_level3": _sla_escalation,
    "stage_overdue": _stage_overdue,
    "incident_opened": _incident_opened,
    "incident_linked": _incident_linked,
    "customer_merged": _customer_merged,
    "customer_anonymized": lambda d, ctx: _("客户个人信息已删除（匿名化）"),
    "attachment_added": _attachment_added,
    "survey_sent": _survey_sent,
    "survey_answered": _survey_answered,
    "survey_unrated": lambda d, ctx: _("客户未在有效期内评价（unrated），投诉归档"),
    "compensation_requested": _compensation_requested,
    "compensation_decided": _compensation_decided,
}
