from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    web = "web"
    api = "api"
    email = "email"
    phone = "phone"
    desk = "desk"
    app = "app"
    weibo = "weibo"
    douyin = "douyin"
    xiaohongshu = "xiaohongshu"
    kuaishou = "kuaishou"
    heimao = "heimao"
    wechat = "wechat"
    social = "social"  # a social or public-opinion source without a code of its own
    other = "other"


CHANNEL_LABELS = {
    Channel.web: "网页表单",
    Channel.api: "API",
    Channel.email: "邮件",
    Channel.phone: "电话",
    Channel.desk: "门店",
    Channel.app: "App",
    Channel.weibo: "微博",
    Channel.douyin: "抖音",
    Channel.xiaohongshu: "小红书",
    Channel.kuaishou: "快手",
    Channel.heimao: "黑猫投诉",
    Channel.wechat: "微信",
    Channel.social: "社交媒体",
    Channel.other: "其他",
}


class Tier(StrEnum):
    standard = "standard"
    vip = "vip"
    key = "key"


TIER_LABELS = {Tier.standard: "普通", Tier.vip: "VIP", Tier.key: "重要客户"}


class Remedy(StrEnum):
    refund = "refund"
    replacement = "replacement"
    repair = "repair"
    compensation = "compensation"
    apology = "apology"
    explanation = "explanation"
    other = "other"


REMEDY_LABELS = {
    Remedy.refund: "退款",
    Remedy.replacement: "换货",
    Remedy.repair: "维修",
    Remedy.compensation: "赔偿",
    Remedy.apology: "道歉",
    Remedy.explanation: "解释说明",
    Remedy.other: "其他",
}


class StageCategory(StrEnum):
    """What a stage means for the clocks: open and waiting stages run, resolved/closed stop."""

    open = "open"
    waiting = "waiting"
    resolved = "resolved"
    closed = "closed"


class EventKind(StrEnum):
    created = "created"
    repeat_detected = "repeat_detected"
    assigned = "assigned"
    stage_changed = "stage_changed"
    note = "note"
    message = "message"
    customer_message = "customer_message"
    customer_accepted = "customer_accepted"
    customer_rejected = "customer_rejected"
    reopened = "reopened"
    merged = "merged"
    merged_into = "merged_into"
    updated = "updated"
    customer_merged = "customer_merged"  # its customer record was merged into another
    customer_anonymized = "customer_anonymized"  # its customer's data erased (PIPL)
    attachment_added = "attachment_added"  # files attached (kesu.attachments)


class Visibility(StrEnum):
    internal = "internal"
    public = "public"


class ActorKind(StrEnum):
    user = "user"
    customer = "customer"
    system = "system"
