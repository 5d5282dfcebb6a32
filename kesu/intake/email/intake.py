"""One message into kesu: a new complaint, a customer message on its thread, ignored, or review.

``take_in`` is called by the poller for each fetched message, after the network I/O, with the
raw bytes. It parses and prepares (triage's text work, the attachments' checks) outside any
transaction, then writes in one short transaction: the ``inbound_messages`` row, the complaint
or the message (through ``complaints.registration`` / ``complaints.service``, so on the
timeline with their audit rows), the attachments (``kesu.attachments.service.add``) and the
mailbox's ``last_uid``. The unique key ``(mailbox, uidvalidity, uid)`` and the stored
Message-ID make a second take-in of the same mail a no-op.

Decisions (docs/architecture.md, "Email in"):
- machine mail (auto-replies, bounces, lists, our own address) is ``ignored`` with its reason;
- a reply is threaded by a tracking number in the subject, a ``kesu.<number>`` id in
  In-Reply-To/References, or the Message-ID of an earlier mail of the complaint — and only
  when it comes from the complaint's customer address; from anyone else it goes to review
  (knowing a number must not let a stranger write into someone's complaint);
- a reply to a resolved or closed complaint is added as a customer message and left to staff
  to reopen (the lifecycle lets only staff reopen, with a reason);
- a mail that cannot be decoded or registered is kept for review with its raw bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import desc, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kesu.accounts.models import Team
from kesu.accounts.service import SYSTEM, Actor
from kesu.clock import Clock
from kesu.complaints import registration
from kesu.complaints import service as complaints
from kesu.complaints.enums import Channel, EventKind
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database
from kesu.errors import KesuError
from kesu.intake.email.mailboxes import MailboxConfig
from kesu.intake.email.models import InboundMessage, Mailbox
from kesu.intake.email.parse import Attachment, ParsedMail, parse, strip_quoted

log = logging.getLogger("kesu.intake.email")
MAX_RAW_KEPT = 25 * 1024 * 1024


@dataclass
class Outcome:
    status: str  # complaint | reply | ignored | duplicate | review | seen (already taken in)
    reason: str = ""
    complaint_number: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _check_attachments(items: list[Attachment]) -> tuple[list[Attachment], list[dict[str, str]]]:
    """The attachments the attachments service will take, and the refused ones with why."""
    try:
        from kesu.attachments import service as attachments
    except ImportError:  # pragma: no cover - the package is registered
        return [], [{"filename": a.filename, "reason": "no attachments service"} for a in items]
    check = getattr(attachments, "check", None)
    if check is None:
        return [], [{"filename": a.filename, "reason": "no attachments service"} for a in items]
    kept, refused = [], []
    for item in items:
        try:
            check(item.filename, item.data)
            kept.append(item)
        except KesuError as exc:
            refused.append({"filename": item.filename, "reason": exc.message[:200]})
    return kept, refused


def _add_attachments(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    items: list[Attachment],
    event_id: int,
    refused: list[dict[str, str]],
) -> list[str]:
    """Adds each file in a savepoint: one the service refuses (e.g. past the per-complaint
    limit) is recorded in ``refused`` and the mail is still taken in."""
    from kesu.attachments import service as attachments

    # Contract 2 of the issue-9 brief (kesu.attachments.service.add).
    add: Any = getattr(attachments, "add")  # noqa: B009 - merged from h/attach
    names = []
    for item in items:
        try:
            with session.begin_nested():
                add(
                    session,
                    clock,
                    complaint,
                    filename=item.filename,
                    data=item.data,
                    visibility="public",
                    source="email",
                    uploaded_by=None,
                    event_id=event_id,
                )
            names.append(item.filename)
        except KesuError as exc:
            refused.append({"filename": item.filename, "reason": exc.message[:200]})
    return names


def take_in(
    db: Database, clock: Clock, mailbox: MailboxConfig, uidvalidity: int, uid: int, raw: bytes
) -> Outcome:
    """Takes one fetched message in; commits. Raises only when the database is unusable."""
    mail = parse(raw)
    kept, refused = _check_attachments(mail.attachments) if not mail.loop else ([], [])
    data, invalid = _complaint_data(mailbox, mail)
    prepared = registration.prepare(db, data) if data is not None and not mail.loop else None
    try:
        with db.session() as session:
            if _already(session, mailbox.id, uidvalidity, uid):
                return Outcome("seen")
            outcome = _decide_and_write(
                session, clock, mailbox, mail, raw, data, invalid, prepared, kept, refused
            )
            _record(session, clock, mailbox, uidvalidity, uid, mail, raw, outcome)
            return outcome
    except IntegrityError:
        # Another worker took this UID in at the same moment (its commit won).
        with db.session(write=False) as session:
            if _already(session, mailbox.id, uidvalidity, uid):
                return Outcome("seen")
        raise
    except KesuError as exc:
        outcome = Outcome("review", f"registration refused: {exc.message}"[:255])
    except Exception as exc:  # a bug must not lose the mail: keep it for a person
        log.exception("email intake failed for mailbox %s uid %s", mailbox.code, uid)
        outcome = Outcome("review", f"intake error: {type(exc).__name__}: {exc}"[:255])
    with db.session() as session:
        if _already(session, mailbox.id, uidvalidity, uid):
            return Outcome("seen")
        _record(session, clock, mailbox, uidvalidity, uid, mail, raw, outcome)
    return outcome


def _already(session: Session, mailbox_id: int, uidvalidity: int, uid: int) -> bool:
    return (
        session.scalar(
            select(InboundMessage.id).where(
                InboundMessage.mailbox_id == mailbox_id,
                InboundMessage.uidvalidity == uidvalidity,
                InboundMessage.uid == uid,
            )
        )
        is not None
    )


def _complaint_data(mailbox: MailboxConfig, mail: ParsedMail) -> tuple[ComplaintCreate | None, str]:
    if not mail.from_addr:
        return None, "no sender address"
    content = mail.body or mail.subject or "（无正文）"
    try:
        data = ComplaintCreate.model_validate(
            {
                "channel": Channel.email,
                "customer": {"name": mail.from_name or mail.from_addr, "email": mail.from_addr},
                "title": mail.subject[:200] or None,
                "content": content,
                "category": mailbox.category or None,
            }
        )
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        message = errors[0]["msg"] if errors else ""
        return None, f"not registrable: {where} {message}"[:255]
    return data, ""


def _decide_and_write(
    session: Session,
    clock: Clock,
    mailbox: MailboxConfig,
    mail: ParsedMail,
    raw: bytes,
    data: ComplaintCreate | None,
    invalid: str,
    prepared: dict[str, Any] | None,
    kept: list[Attachment],
    refused: list[dict[str, str]],
) -> Outcome:
    own = {mailbox.username.lower(), *mailbox.own_addresses}
    if mail.from_addr and mail.from_addr in own:
        return Outcome("ignored", "own_address")
    if mail.loop:
        return Outcome("ignored", mail.loop)
    if mail.message_id and _taken_message_id(session, mail.message_id):
        return Outcome("duplicate", "message_id")
    if mail.problems:
        return Outcome("review", "; ".join(mail.problems)[:255])
    target = _thread(session, mail)
    if target is not None:
        return _reply(session, clock, target, mail, kept, refused)
    if data is None:
        return Outcome("review", invalid)
    # The customer wrote it (as on the public form), so their mail is the thread's last word.
    author = Actor("customer", None, data.customer.name)
    complaint, _replayed = registration.create_complaint(
        session, clock, author, data, prepared=prepared
    )
    session.flush()
    if mailbox.team_id is not None and complaint.team_id is None:
        team = session.get(Team, mailbox.team_id)
        if team is not None and team.is_active:
            complaints.assign(
                session,
                clock,
                SYSTEM,
                complaint,
                version=complaint.version,
                team=team,
                assignee=None,
                reason=None,
            )
    event_id = _last_event_id(session, complaint, EventKind.created, mail)
    names = _add_attachments(session, clock, complaint, kept, event_id, refused) if kept else []
    return Outcome(
        "complaint",
        "",
        complaint.number,
        {"attachments": names, "refused": refused} if (names or refused) else {},
    )


def _reply(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    mail: ParsedMail,
    kept: list[Attachment],
    refused: list[dict[str, str]],
) -> Outcome:
    known = {a.lower() for a in (complaint.contact_email, complaint.customer.email) if a}
    if mail.from_addr not in known:
        return Outcome("review", "reply from another address", complaint.number)
    body = strip_quoted(mail.body) or mail.subject or "（无正文）"
    complaints.add_customer_message(session, clock, complaint, body[:20000])
    session.flush()
    event_id = _last_event_id(session, complaint, EventKind.customer_message, mail)
    names = _add_attachments(session, clock, complaint, kept, event_id, refused) if kept else []
    detail: dict[str, Any] = {}
    if names or refused:
        detail = {"attachments": names, "refused": refused}
    if not complaint.is_open:
        detail["closed"] = True  # staff decide whether to reopen (二次处理)
    return Outcome("reply", "", complaint.number, detail)


def _last_event_id(session: Session, complaint: Complaint, kind: str, mail: ParsedMail) -> int:
    """The event just recorded for this mail; it keeps the mail's Message-ID
    (``data["message_id"]``) so notify answers it with In-Reply-To (contract 1)."""
    event = session.scalar(
        select(ComplaintEvent)
        .where(ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.kind == kind)
        .order_by(desc(ComplaintEvent.id))
        .limit(1)
    )
    if event is None:
        return 0
    if mail.message_id:
        event.data = {**(event.data or {}), "message_id": f"<{mail.message_id}>"}
    return int(event.id)


def _taken_message_id(session: Session, message_id: str) -> bool:
    return (
        session.scalar(
            select(InboundMessage.id)
            .where(
                InboundMessage.message_id == message_id[:255],
                InboundMessage.status.in_(("complaint", "reply", "review", "ignored")),
            )
            .limit(1)
        )
        is not None
    )


def _thread(session: Session, mail: ParsedMail) -> Complaint | None:
    """The complaint this mail answers, if any (contract 1 of the issue-9 brief)."""
    for number in mail.numbers():
        complaint = session.scalar(select(Complaint).where(Complaint.number == number))
        if complaint is not None:
            return _followed(session, complaint)
    ids = [i[:255] for i in mail.thread_ids]
    if ids:
        complaint_id = session.scalar(
            select(InboundMessage.complaint_id)
            .where(InboundMessage.message_id.in_(ids), InboundMessage.complaint_id.is_not(None))
            .order_by(desc(InboundMessage.id))
            .limit(1)
        )
        if complaint_id is not None:
            complaint = session.get(Complaint, complaint_id)
            if complaint is not None:
                return _followed(session, complaint)
    return None


def _followed(session: Session, complaint: Complaint) -> Complaint:
    """A merged complaint's thread continues on the one it was merged into."""
    seen = {complaint.id}
    while complaint.merged_into_id is not None and complaint.merged_into_id not in seen:
        target = session.get(Complaint, complaint.merged_into_id)
        if target is None:
            break
        seen.add(target.id)
        complaint = target
    return complaint


def _record(
    session: Session,
    clock: Clock,
    mailbox: MailboxConfig,
    uidvalidity: int,
    uid: int,
    mail: ParsedMail,
    raw: bytes,
    outcome: Outcome,
) -> None:
    complaint_id = None
    if outcome.complaint_number:
        complaint_id = session.scalar(
            select(Complaint.id).where(Complaint.number == outcome.complaint_number)
        )
    keep_raw = outcome.status == "review" and len(raw) <= MAX_RAW_KEPT
    detail = dict(outcome.detail)
    if outcome.status == "review" and not keep_raw:
        detail["raw"] = "too large to keep; still in the mailbox"

    def clean(text: str, limit: int) -> str:  # PostgreSQL refuses NUL in text
        return text.replace("\x00", "")[:limit]

    session.add(
        InboundMessage(
            mailbox_id=mailbox.id,
            uidvalidity=uidvalidity,
            uid=uid,
            message_id=clean(mail.message_id, 255) or None,
            status=outcome.status,
            reason=clean(outcome.reason, 255),
            complaint_id=complaint_id,
            sender=clean(mail.from_addr, 320),
            subject=clean(mail.subject, 255),
            size=len(raw),
            detail=detail,
            raw=raw if keep_raw else None,
            received_at=clock.now(),
        )
    )
    row = session.get(Mailbox, mailbox.id)
    if row is not None:
        if row.uidvalidity != uidvalidity:  # the folder was rebuilt: UIDs start again
            row.uidvalidity = uidvalidity
            row.last_uid = uid
        else:
            row.last_uid = max(row.last_uid or 0, uid)


def take_in_oversized(
    db: Database,
    clock: Clock,
    mailbox: MailboxConfig,
    uidvalidity: int,
    uid: int,
    header: bytes,
    size: int,
) -> Outcome:
    """A message too big to fetch: recorded for review from its header (it stays on the
    server, where a person can read it)."""
    mail = parse(header)
    outcome = Outcome("review", "too large", detail={"size": size})
    with db.session() as session:
        if _already(session, mailbox.id, uidvalidity, uid):
            return Outcome("seen")
        _record(session, clock, mailbox, uidvalidity, uid, mail, b"", outcome)
    return outcome


def register_review(session: Session, clock: Clock, actor: Actor, row_id: int) -> str:
    """A person registers a mail kept for review as a complaint (what could be decoded; the
    rest shows as U+FFFD); returns its number. Works in the caller's transaction (a page's
    write session; parsing a kept mail there is short) and never commits."""
    from kesu.errors import InvalidInput, NotFound
    from kesu.web.i18n import gettext as _

    row = session.get(InboundMessage, row_id)
    if row is None or row.status != "review" or row.raw is None:
        raise NotFound(_("没有待人工查看的这封邮件"), field="id")
    box = session.get(Mailbox, row.mailbox_id)
    if box is None:
        raise NotFound(_("没有待人工查看的这封邮件"), field="id")
    mail = parse(row.raw)
    data, invalid = _complaint_data(MailboxConfig.of(box), mail)
    if data is None:
        raise InvalidInput(_("这封邮件无法登记：%(reason)s") % {"reason": invalid}, field="id")
    kept, refused = _check_attachments(mail.attachments)
    complaint, _replayed = registration.create_complaint(session, clock, actor, data)
    session.flush()
    event_id = _last_event_id(session, complaint, EventKind.created, mail)
    names = _add_attachments(session, clock, complaint, kept, event_id, refused)
    detail = {**(row.detail or {}), "registered_by": actor.label, "review": row.reason}
    if names or refused:
        detail.update({"attachments": names, "refused": refused})
    row.status = "complaint"
    row.complaint_id = complaint.id
    row.detail = detail
    return complaint.number
