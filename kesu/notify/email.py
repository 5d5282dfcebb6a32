"""Email over SMTP (``KESU_SMTP_*`` settings), one message per outbox row.

The ``Message-ID`` is derived from the outbox row, so a retry after a lost answer carries the
same id and mail systems that deduplicate on it show the message once.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from kesu.config import Settings
from kesu.notify.channels import DeliveryResult, DeliveryStatus


def build(
    settings: Settings,
    to: str,
    subject: str,
    body: str,
    delivery_id: str,
    attachments: Sequence[dict[str, Any]] = (),
) -> EmailMessage:
    """A plain-text email; ``attachments`` (``{"filename", "content_type", "content_b64"}``,
    as an outbox row's ``data["attachments"]`` carries them) make it multipart/mixed."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    domain = settings.smtp_from.rpartition("@")[2] or "kesu.local"
    message["Message-ID"] = f"<kesu-{delivery_id}@{domain}>"
    message["X-Kesu-Delivery"] = delivery_id
    message.set_content(body)  # UTF-8; Chinese subjects are RFC 2047-encoded by the policy
    for item in attachments:
        maintype, _, subtype = str(item["content_type"]).partition("/")
        message.add_attachment(
            base64.b64decode(item["content_b64"]),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=str(item["filename"]),
        )
    return message


def domain_of(settings: Settings) -> str:
    return settings.smtp_from.rpartition("@")[2].strip(" >") or "kesu.local"


def customer_message_id(settings: Settings, number: str, delivery_id: str) -> str:
    return f"<kesu.{number}.{delivery_id}@{domain_of(settings)}>"


def build_customer(
    settings: Settings,
    to: str,
    subject: str,
    body: str,
    delivery_id: str,
    number: str,
    in_reply_to: str | None = None,
) -> EmailMessage:
    """An email to a customer (the contract with kesu.intake.email, which threads replies):
    ``[number]`` in the subject, ``Message-ID: <kesu.{number}.{delivery}@{domain}>``,
    ``References: <kesu.{number}@{domain}>`` (the thread's root) and ``In-Reply-To`` the
    previous message of the thread when known, ``Reply-To: KESU_EMAIL_REPLY_TO``."""
    if f"[{number}]" not in subject:
        subject = f"[{number}] {subject}"
    message = build(settings, to, subject, body, delivery_id)
    domain = domain_of(settings)
    root = f"<kesu.{number}@{domain}>"
    message.replace_header("Message-ID", customer_message_id(settings, number, delivery_id))
    message["References"] = f"{root} {in_reply_to}" if in_reply_to else root
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    message["Reply-To"] = settings.email_reply_to.strip() or settings.smtp_from
    message["Auto-Submitted"] = "auto-generated"
    return message


def send(settings: Settings, message: EmailMessage) -> DeliveryResult:
    """One attempt. Connection trouble and 4xx answers are retried; 5xx answers are final."""
    if not settings.smtp_host:
        return DeliveryResult(DeliveryStatus.FAILED, detail="KESU_SMTP_HOST is not set")
    try:
        if settings.smtp_ssl:
            context = ssl.create_default_context()
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout,
                context=context,
            )
        else:
            client = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
            )
        with client:
            if settings.smtp_starttls and not settings.smtp_ssl:
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password)
            refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return _answer(exc.recipients)
    except smtplib.SMTPResponseException as exc:
        status = DeliveryStatus.RETRYABLE if 400 <= exc.smtp_code < 500 else DeliveryStatus.FAILED
        return DeliveryResult(status, exc.smtp_code, _text(exc.smtp_error))
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return DeliveryResult(DeliveryStatus.RETRYABLE, detail=f"smtp: {exc!r}"[:300])
    if refused:
        return _answer(refused)
    return DeliveryResult(DeliveryStatus.DELIVERED, 250, "accepted")


def _answer(refused: dict[str, tuple[int, bytes]]) -> DeliveryResult:
    code, text = next(iter(refused.values()))
    status = DeliveryStatus.RETRYABLE if 400 <= code < 500 else DeliveryStatus.FAILED
    return DeliveryResult(status, code, _text(text))


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value)[:300]
