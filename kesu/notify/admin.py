"""The bell (reading and marking notifications), users' channel choices, the admins' view of
the outbox (failed deliveries, retry) and the channel endpoints (robots, webhooks, SMS)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import User
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.config import get_settings
from kesu.errors import Conflict, InvalidInput, NotFound
from kesu.notify.channels import CHANNELS
from kesu.notify.channels.webhook import TargetPolicy, TargetRefused, TargetUnresolved
from kesu.notify.models import Notification, NotifyEndpoint, NotifyPreference, OutboxMessage
from kesu.notify.service import DEFAULT_CHANNELS, ENDPOINT_KINDS, USER_CHANNELS
from kesu.notify.texts import events as template_events
from kesu.taxonomy import cache as config_cache
from kesu.web.i18n import N_, translations
from kesu.web.i18n import gettext as _

SECRET_KEYS = ("secret", "hmac_secret", "access_token", "key", "password", "token")


# -- the bell -----------------------------------------------------------------------------------


def inbox(
    session: Session, user: User, limit: int, before: int | None, unread_only: bool
) -> dict[str, Any]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "unread": unread_count(session, user),
        "items": [notification_out(n) for n in rows],
        "next_before": rows[-1].id if more and rows else None,
    }


def unread_count(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, clock: Clock, user: User, ids: list[int] | None) -> int:
    """Marks the user's notifications read (all of them when ``ids`` is None)."""
    stmt = (
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "event": n.event,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "complaint_id": n.complaint_id,
        "created_at": n.created_at,
        "read_at": n.read_at,
    }


# -- preferences --------------------------------------------------------------------------------


def preferences(session: Session, user: User) -> list[str]:
    row = session.get(NotifyPreference, user.id)
    return list(row.channels) if row else list(DEFAULT_CHANNELS)


def set_preferences(session: Session, clock: Clock, user: User, channels: list[str]) -> list[str]:
    unknown = [c for c in channels if c not in USER_CHANNELS]
    if unknown:
        raise InvalidInput(
            _("未知渠道：%(channel)s（可选：%(channels)s）")
            % {"channel": unknown[0], "channels": ", ".join(USER_CHANNELS)},
            field="channels",
        )
    clean = [c for c in USER_CHANNELS if c in channels]
    session.info.pop("kesu_notify_preferences", None)  # kesu.notify.service caches them
    row = session.get(NotifyPreference, user.id)
    if row is None:
        session.add(NotifyPreference(user_id=user.id, channels=clean, updated_at=clock.now()))
    else:
        row.channels = clean
        row.updated_at = clock.now()
    record_audit(
        session, clock, Actor.of(user), "notify.preferences", "user", user.id, {"channels": clean}
    )
    return clean


# -- the outbox, for admins ---------------------------------------------------------------------


def outbox(session: Session, status: str | None, limit: int, before: int | None) -> dict[str, Any]:
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if before is not None:
        stmt = stmt.where(OutboxMessage.id < before)
    rows = list(session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [outbox_out(r) for r in rows],
        "next_before": rows[-1].id if more and rows else None,
    }


def retry(session: Session, clock: Clock, actor: Actor, row_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, row_id)
    if row is None:
        raise NotFound(_("没有这条发送记录：%(id)s") % {"id": row_id}, field="id")
    if row.status != "failed":
        raise Conflict(_("只能重试发送失败的记录"), field="id")
    row.status = "pending"
    row.attempts = 0
    row.available_at = clock.now()
    record_audit(
        session, clock, actor, "outbox.retry", "outbox", row.id, {"dedup_key": row.dedup_key}
    )
    return row


def outbox_out(r: OutboxMessage) -> dict[str, Any]:
    return {
        "id": r.id,
        "channel": r.channel,
        "event": r.event,
        "recipient": r.recipient,
        "endpoint_id": r.endpoint_id,
        "complaint_id": r.complaint_id,
        "title": r.title,
        "status": r.status,
        "attempts": r.attempts,
        "available_at": r.available_at,
        "last_error": r.last_error,
        "created_at": r.created_at,
        "delivered_at": r.delivered_at,
    }


# -- endpoints ----------------------------------------------------------------------------------


def save_endpoint(
    session: Session, clock: Clock, actor: Actor, fields: dict[str, Any], row: NotifyEndpoint | None
) -> NotifyEndpoint:
    kind = fields.get("kind", row.kind if row else None)
    if kind not in ENDPOINT_KINDS or kind not in CHANNELS:
        raise InvalidInput(
            _("未知类型：%(kind)s（可选：%(kinds)s）")
            % {"kind": kind, "kinds": ", ".join(ENDPOINT_KINDS)},
            field="kind",
        )
    for event in fields.get("events") or []:
        if event not in template_events():
            raise InvalidInput(
                _("未知事件：%(event)s（可选：%(events)s）")
                % {"event": event, "events": ", ".join(template_events())},
                field="events",
            )
    if row is None:
        code = fields.get("code", "")
        if session.scalar(select(NotifyEndpoint.id).where(NotifyEndpoint.code == code)):
            raise Conflict(_("代码已存在：%(code)s") % {"code": code}, field="code")
        row = NotifyEndpoint(code=code, kind=kind, updated_at=clock.now())
        session.add(row)
    config = fields.get("config")
    if config is not None and row.config:
        # A masked value sent back unchanged (a secret, a robot URL's token) keeps the stored one.
        shown = _masked(row.config)
        config = {
            k: (row.config[k] if k in shown and v == shown[k] else v) for k, v in config.items()
        }
    for key in ("name", "kind", "events", "teams", "locale", "is_active"):
        if key in fields and fields[key] is not None:
            setattr(row, key, fields[key])
    if config is not None:
        check_target(config)
        row.config = config
    row.updated_at = clock.now()
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "notify_endpoint.save",
        "notify_endpoint",
        row.code,
        endpoint_out(row),
    )
    config_cache.clear()
    return row


def check_target(config: dict[str, Any]) -> None:
    """An endpoint URL may not name a loopback, private or link-local address unless the admin
    allowed it (KESU_WEBHOOK_ALLOWED_HOSTS / KESU_WEBHOOK_ALLOW_PRIVATE); the worker checks
    again before every send. A name that does not resolve now is left to that check."""
    url = config.get("url")
    if not isinstance(url, str) or not url:
        return
    try:
        TargetPolicy.from_settings(get_settings()).check(url)
    except TargetUnresolved:
        return
    except TargetRefused:
        host = urlsplit(url).hostname or url
        raise InvalidInput(
            _(
                "%(host)s 指向本机、内网或其他非公网地址，不能作为通知目标"
                "（管理员可以用 KESU_WEBHOOK_ALLOWED_HOSTS 放行）"
            )
            % {"host": host},
            field="config.url",
        ) from None


def _masked(config: dict[str, Any]) -> dict[str, Any]:
    masked = {k: ("***" if k in SECRET_KEYS and v else v) for k, v in config.items()}
    if isinstance(masked.get("url"), str) and "?" in masked["url"]:
        masked["url"] = masked["url"].split("?", 1)[0] + "?***"  # robot URLs carry their token
    return masked


def endpoint_out(row: NotifyEndpoint) -> dict[str, Any]:
    masked = _masked(row.config or {})
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "config": masked,
        "events": row.events,
        "teams": row.teams,
        "locale": row.locale,
        "is_active": row.is_active,
        "updated_at": row.updated_at,
    }


def get_endpoint(session: Session, row_id: int) -> NotifyEndpoint:
    row = session.get(NotifyEndpoint, row_id)
    if row is None:
        raise NotFound(_("没有这个通知渠道：%(id)s") % {"id": row_id}, field="id")
    return row


def delete_endpoint(session: Session, clock: Clock, actor: Actor, row: NotifyEndpoint) -> None:
    """Deletes an endpoint; its past deliveries stay in the outbox (without the endpoint)."""
    record_audit(
        session,
        clock,
        actor,
        "notify_endpoint.delete",
        "notify_endpoint",
        row.code,
        endpoint_out(row),
    )
    session.delete(row)
    session.flush()
    config_cache.clear()


TEST_TITLE = N_("kesu 测试通知")
TEST_BODY = N_("这是一条来自 kesu 的测试消息，收到即表示「%(name)s」配置正确。")


def send_test(
    session: Session, clock: Clock, actor: Actor, row: NotifyEndpoint, phone: str = ""
) -> OutboxMessage:
    """Queues a test message to the endpoint through the outbox (the worker delivers it), in
    the endpoint's language. An SMS gateway needs a phone number to send to."""
    if row.kind == "sms" and not (phone.isascii() and 5 <= len(phone) <= 20):
        raise InvalidInput(_("测试短信需要一个手机号码"), field="phone")
    translate = translations("en" if row.locale.startswith("en") else "zh_CN").gettext
    now = clock.now()
    message = OutboxMessage(
        dedup_key=f"test:ep{row.id}:{secrets.token_hex(8)}",
        channel=row.kind,
        endpoint_id=row.id,
        recipient=phone if row.kind == "sms" else "",
        event="test",
        title=translate(TEST_TITLE),
        body=translate(TEST_BODY) % {"name": row.name},
        data={"complaint": None, "test": True},
        status="pending",
        attempts=0,
        available_at=now,
        last_error="",
        created_at=now,
    )
    session.add(message)
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "notify_endpoint.test",
        "notify_endpoint",
        row.code,
        {"outbox_id": message.id},
    )
    return message
