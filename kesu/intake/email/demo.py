"""Demo data for email intake: one mailbox (disabled; its password from an unset environment
variable, so it reaches nothing) and a few sample mails fed through the real intake — a new
complaint, the customer's reply threaded into it, a second complaint in GBK, an auto-reply
that is ignored."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.clock import Clock
from kesu.db import Database
from kesu.intake.email import intake, mailboxes
from kesu.intake.email.mailboxes import MailboxConfig
from kesu.intake.email.models import Mailbox

DEMO_UIDVALIDITY = 1


def _mail(
    sender: str, subject: str, body: str, message_id: str, clock: Clock, **extra: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@kesu-shop.example.com"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = message_id
    for key, value in extra.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def seed(db: Database, clock: Clock, settings: Any) -> dict[str, int]:
    """Returns how many sample mails ended as what (complaint, reply, ignored)."""
    with db.session() as session:
        if session.scalar(select(Mailbox.id).where(Mailbox.code == "support")) is not None:
            return {}  # already there (a second ``kesu demo`` on the same database)
        row = mailboxes.save_mailbox(
            session,
            clock,
            settings,
            accounts.SYSTEM,
            {
                "code": "support",
                "name": "客服邮箱（演示）",
                "host": "imap.kesu-shop.example.com",
                "port": 993,
                "tls": "ssl",
                "username": "support@kesu-shop.example.com",
                "password_env": "KESU_DEMO_MAIL_PASSWORD",
                "own_addresses": ["kesu@kesu-shop.example.com"],
                "is_active": False,
            },
            None,
        )
        box = MailboxConfig.of(row)
    first = _mail(
        "王芳 <wangfang@example.com>",
        "买的空气净化器有异响",
        "你好，上周买的空气净化器开机后一直有咔咔的异响，晚上根本没法用，希望换货。",
        "<demo-1@example.com>",
        clock,
    )
    reply = _mail(
        "王芳 <wangfang@example.com>",
        "Re: 买的空气净化器有异响",
        "补充：订单号 DM20261120088，异响视频可以提供。\n\n> 你好，上周买的空气净化器……",
        "<demo-2@example.com>",
        clock,
        In_Reply_To="<demo-1@example.com>",
        References="<demo-1@example.com>",
    )
    gbk_body = base64.encodebytes("快递员没有送货上门，直接放在驿站，也没有通知我。".encode("gbk"))
    gbk = (
        b"From: liuyang@example.com\r\nTo: support@kesu-shop.example.com\r\n"
        b"Subject: =?gb2312?B?" + base64.b64encode("快递没有送货上门".encode("gbk")) + b"?=\r\n"
        b"Message-ID: <demo-3@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: text/plain; charset="gb2312"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + gbk_body
    )
    auto = _mail(
        "王芳 <wangfang@example.com>",
        "自动回复：买的空气净化器有异响",
        "我正在休假。",
        "<demo-4@example.com>",
        clock,
        Auto_Submitted="auto-replied",
    )
    outcomes = [
        intake.take_in(db, clock, box, DEMO_UIDVALIDITY, uid, raw)
        for uid, raw in enumerate((first, reply, gbk, auto), start=1)
    ]
    return {o.status: sum(1 for x in outcomes if x.status == o.status) for o in outcomes}
