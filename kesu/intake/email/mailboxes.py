"""Mailbox configuration: validation, the password (environment or encrypted), audit, output.

The password is never shown back: ``mailbox_out`` says only where it comes from. A stored
password is encrypted with Fernet under a key derived (HKDF-SHA256) from the app secret
(``Settings.session_secret()``), so a copy of the database alone does not reveal it; changing
``KESU_SECRET_KEY`` makes stored passwords unreadable (the mailbox then reports the error and
an admin enters the password again).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import Team
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.config import Settings
from kesu.errors import Conflict, InvalidInput, NotFound
from kesu.intake.email.models import Mailbox
from kesu.intake.email.parse import ADDRESS
from kesu.taxonomy.service import resolve_category
from kesu.web.i18n import gettext as _

TLS_MODES = ("ssl", "starttls", "none")
CODE = re.compile(r"^[a-z0-9_\-]{1,64}$")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
FOLDER = re.compile(r"^[^\x00-\x1f\"\\*%]{1,255}$")
MIN_POLL, MAX_POLL = 30, 86400


def _fernet(settings: Settings) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"kesu-mailbox-password", info=b"fernet"
    ).derive(settings.session_secret().encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_password(settings: Settings, password: str) -> str:
    return _fernet(settings).encrypt(password.encode()).decode()


def password_for(settings: Settings, mailbox: Mailbox | MailboxConfig) -> str:
    """The password to log in with; ``InvalidInput`` naming what is missing."""
    if mailbox.password_env:
        value = os.environ.get(mailbox.password_env)
        if value is None:
            raise InvalidInput(
                _("环境变量 %(name)s 未设置") % {"name": mailbox.password_env}, field="password_env"
            )
        return value
    if mailbox.password_encrypted:
        try:
            return _fernet(settings).decrypt(mailbox.password_encrypted.encode()).decode()
        except InvalidToken:
            raise InvalidInput(
                _("保存的密码无法解密（密钥已更换？），请重新填写密码"), field="password"
            ) from None
    return ""


@dataclass(frozen=True)
class MailboxConfig:
    """What the poller needs of a mailbox, read once (no session held during network I/O)."""

    id: int
    code: str
    name: str
    host: str
    port: int
    tls: str
    username: str
    password_env: str
    password_encrypted: str
    folder: str
    poll_seconds: int
    category: str
    team_id: int | None
    own_addresses: tuple[str, ...]
    uidvalidity: int | None
    last_uid: int

    @classmethod
    def of(cls, row: Mailbox) -> MailboxConfig:
        return cls(
            id=row.id,
            code=row.code,
            name=row.name,
            host=row.host,
            port=row.port,
            tls=row.tls,
            username=row.username,
            password_env=row.password_env,
            password_encrypted=row.password_encrypted,
            folder=row.folder,
            poll_seconds=row.poll_seconds,
            category=row.category,
            team_id=row.team_id,
            own_addresses=tuple(row.own_addresses or ()),
            uidvalidity=row.uidvalidity,
            last_uid=row.last_uid,
        )


def check_host(host: str) -> str:
    """A host name or an IP address (loopback allowed: it is our own mail server)."""
    host = host.strip().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not HOSTNAME.match(host):
        raise InvalidInput(_("服务器地址不是有效的主机名或 IP 地址"), field="host")
    return host.lower()


def get_mailbox(session: Session, row_id: int) -> Mailbox:
    row = session.get(Mailbox, row_id)
    if row is None:
        raise NotFound(_("没有这个邮箱：%(id)s") % {"id": row_id}, field="id")
    return row


def save_mailbox(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    fields: dict[str, Any],
    row: Mailbox | None,
) -> Mailbox:
    """Creates (``row`` None) or updates a mailbox from already-typed fields; audited.

    ``password``: a new password to store encrypted (``""`` or absent keeps the stored one);
    ``password_env``: a variable name (``""`` switches back to the stored password)."""
    now = clock.now()
    if row is None:
        code = str(fields.get("code") or "")
        if not CODE.match(code):
            raise InvalidInput(
                _("代码只能包含小写字母、数字、_ 和 -（最多 64 个字符）"), field="code"
            )
        if session.scalar(select(Mailbox.id).where(Mailbox.code == code)):
            raise Conflict(_("代码已存在：%(code)s") % {"code": code}, field="code")
        for required in ("name", "host", "username"):
            if not fields.get(required):
                raise InvalidInput(_("请填写此项"), field=required)
        row = Mailbox(code=code, created_at=now, updated_at=now, last_uid=0, own_addresses=[])
        row.port = 993
        row.tls = "ssl"
        row.folder = "INBOX"
        row.poll_seconds = 60
        row.category = ""
        row.password_env = ""
        row.password_encrypted = ""
        row.last_error = ""
        row.is_active = True
        session.add(row)
    if "name" in fields and fields["name"] is not None:
        name = str(fields["name"]).strip()
        if not name or len(name) > 128:
            raise InvalidInput(_("请填写名称（最多 128 个字符）"), field="name")
        row.name = name
    if fields.get("host") is not None:
        row.host = check_host(str(fields["host"]))
    if fields.get("port") is not None:
        port = int(fields["port"])
        if not 1 <= port <= 65535:
            raise InvalidInput(_("端口应在 1 到 65535 之间"), field="port")
        row.port = port
    if fields.get("tls") is not None:
        if fields["tls"] not in TLS_MODES:
            raise InvalidInput(
                _("加密方式只能是 %(modes)s") % {"modes": ", ".join(TLS_MODES)}, field="tls"
            )
        row.tls = str(fields["tls"])
    if fields.get("username") is not None:
        username = str(fields["username"]).strip()
        if not username or len(username) > 255 or any(ch < " " for ch in username):
            raise InvalidInput(_("请填写用户名（最多 255 个字符）"), field="username")
        row.username = username
    if fields.get("folder") is not None:
        folder = str(fields["folder"]).strip() or "INBOX"
        if not FOLDER.match(folder):
            raise InvalidInput(_("文件夹名称无效"), field="folder")
        row.folder = folder
    if fields.get("poll_seconds") is not None:
        seconds = int(fields["poll_seconds"])
        if not MIN_POLL <= seconds <= MAX_POLL:
            raise InvalidInput(
                _("轮询间隔应在 %(min)d 到 %(max)d 秒之间") % {"min": MIN_POLL, "max": MAX_POLL},
                field="poll_seconds",
            )
        row.poll_seconds = seconds
    if fields.get("category") is not None:
        category = str(fields["category"]).strip()
        if category:
            resolve_category(session, category)  # InvalidInput naming the field when unknown
        row.category = category
    if "team" in fields:
        team_code = fields["team"]
        if team_code:
            team = session.scalar(select(Team).where(Team.code == team_code, Team.is_active))
            if team is None:
                raise InvalidInput(_("没有这个团队：%(team)s") % {"team": team_code}, field="team")
            row.team_id = team.id
        else:
            row.team_id = None
    if fields.get("own_addresses") is not None:
        addresses = [str(a).strip().lower() for a in fields["own_addresses"] if str(a).strip()]
        for address in addresses:
            if not ADDRESS.match(address):
                raise InvalidInput(
                    _("不是有效的邮箱地址：%(address)s") % {"address": address[:64]},
                    field="own_addresses",
                )
        row.own_addresses = sorted(set(addresses))[:20]
    if fields.get("password_env") is not None:
        env = str(fields["password_env"]).strip()
        if env and not ENV_NAME.match(env):
            raise InvalidInput(_("环境变量名无效"), field="password_env")
        row.password_env = env
    if fields.get("password"):
        password = str(fields["password"])
        if len(password) > 1024 or "\x00" in password:
            raise InvalidInput(_("密码过长"), field="password")
        row.password_encrypted = encrypt_password(settings, password)
    if not row.password_env and not row.password_encrypted:
        raise InvalidInput(_("请填写密码，或填写保存密码的环境变量名"), field="password")
    if fields.get("is_active") is not None:
        row.is_active = bool(fields["is_active"])
    if fields.get("resume") and row.is_active:
        row.next_poll_at = None  # poll at once
    row.updated_at = now
    session.flush()
    record_audit(session, clock, actor, "mailbox.save", "mailbox", row.code, mailbox_out(row))
    return row


def mailbox_out(row: Mailbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "host": row.host,
        "port": row.port,
        "tls": row.tls,
        "username": row.username,
        "password": "env" if row.password_env else ("stored" if row.password_encrypted else ""),
        "password_env": row.password_env,
        "folder": row.folder,
        "poll_seconds": row.poll_seconds,
        "category": row.category,
        "team_id": row.team_id,
        "own_addresses": list(row.own_addresses or []),
        "is_active": row.is_active,
        "uidvalidity": row.uidvalidity,
        "last_uid": row.last_uid,
        "last_poll_at": row.last_poll_at.isoformat() if row.last_poll_at else None,
        "next_poll_at": row.next_poll_at.isoformat() if row.next_poll_at else None,
        "last_error": row.last_error,
        "last_error_at": row.last_error_at.isoformat() if row.last_error_at else None,
    }
