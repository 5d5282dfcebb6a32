"""Tables: the IMAP mailboxes kesu reads, and every message taken in from them.

``inbound_messages`` is the intake's memory: one row per message seen, unique on
``(mailbox_id, uidvalidity, uid)``, written in the same transaction as the complaint or the
customer message it became. The poller advances ``mailboxes.last_uid`` in that transaction too,
so a crash before the commit takes the message in again and a crash after it never doubles it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kesu.db import Base


class Mailbox(Base):
    """One IMAP mailbox (host, account, folder) polled by the worker."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    tls: Mapped[str] = mapped_column(String(16))  # ssl | starttls | none
    username: Mapped[str] = mapped_column(String(255))
    # The password: the name of an environment variable, or Fernet-encrypted here (never shown).
    password_env: Mapped[str] = mapped_column(String(128), default="")
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    poll_seconds: Mapped[int] = mapped_column(default=60)
    category: Mapped[str] = mapped_column(String(255), default="")  # a category path, optional
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # Our own addresses (besides the account's): mail from them never becomes a complaint.
    own_addresses: Mapped[list[str]] = mapped_column(default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Where the poller stands: the folder's UIDVALIDITY and the last UID taken in.
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_poll_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InboundMessage(Base):
    """One message seen in a mailbox and what became of it."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "uidvalidity", "uid"),
        Index("ix_inbound_messages_message_id", "message_id"),
        Index("ix_inbound_messages_mailbox_id_received_at", "mailbox_id", "received_at"),
        Index("ix_inbound_messages_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(255))
    # complaint (a new complaint) | reply (threaded into one) | ignored (a loop: auto-reply,
    # bounce, list, our own mail) | duplicate (the same Message-ID again) | review (kept for
    # a person: undecodable, unknown sender …, with the raw message)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(255), default="")
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL"), index=True
    )
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # attachments kept/refused …
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # kept for ``review`` only
    received_at: Mapped[datetime]
