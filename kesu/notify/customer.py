"""Messages to the customer about their complaint, on the channel it came from.

The listener hears every complaint event (kesu/wiring.py) inside the transaction of the
change and writes at most one outbox row per event; ``kesu worker`` delivers it. Which events:

- ``created`` → ``ack``: the tracking number and link, at once, always (even opted out);
- ``message`` (a public message from staff) → ``message``;
- ``stage_changed`` into a waiting stage (客户确认) → ``confirm``, with accept/reject links to
  the tracking page's respond form (the change itself needs the form's POST);
- ``stage_changed`` carrying the ``result`` output (leaving 结果反馈) → ``result``;
- ``reopened`` → ``reopen``.

Channel: a complaint that came by email is answered by email; every other channel by SMS when
a phone is known and an SMS gateway endpoint is active, else by email. Language: the
complaint's ``locale``. A customer who opted out gets only the acknowledgement. The dedup key
is the event (``cust:<complaint>:ack``, ``cust:<complaint>:e<event id>``), unique in the
outbox, so an event is never sent twice; the outbox row commits with the change, so it is
never lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints.enums import StageCategory
from kesu.complaints.models import Complaint, ComplaintEvent, Customer, Stage
from kesu.notify import customer_texts
from kesu.notify.models import OutboxMessage
from kesu.notify.service import _Rows, endpoints
from kesu.web import public_url
from kesu.web.i18n import translations

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
PREFIX = "customer."  # outbox.event of customer messages: customer.ack, customer.message …


@dataclass(frozen=True)
class Route:
    channel: str  # email | sms
    recipient: str
    endpoint_id: int | None


def on_event(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    """Enqueues the customer's message for the events they are told about."""
    if event.actor_kind == "user":
        public_url.remember(session, clock.now())  # staff's address, for the worker's links
    found = _what(session, complaint, event)
    if found is None:
        return
    what, extra = found
    customer = complaint.customer
    if customer.anonymized_at is not None:
        return
    if what != "ack" and customer.notify_opt_out_at is not None:
        return
    if complaint.id is None or (what != "ack" and event.id is None):
        session.flush()  # the outbox row names the complaint; the dedup key the event
    key = f"cust:{complaint.id}:ack" if what == "ack" else f"cust:{complaint.id}:e{event.id}"
    enqueue(session, clock, complaint, what, extra, key)


def _what(
    session: Session, complaint: Complaint, event: ComplaintEvent
) -> tuple[str, dict[str, str]] | None:
    kind, data = event.kind, event.data or {}
    if kind == "created":
        return "ack", {}
    if kind == "message" and event.visibility == "public" and event.actor_kind != "customer":
        return "message", {"message": event.body}
    if kind == "reopened":
        return "reopen", {"reason": str(data.get("reason") or "")}
    if kind != "stage_changed":
        return None
    outputs = data.get("outputs") or {}
    if outputs.get("result"):
        return "result", {"result": str(outputs["result"])}
    target = session.get(Stage, str(data.get("to", "")))
    if target is not None and target.category == StageCategory.waiting:
        return "confirm", {"solution": str(complaint.outputs.get("solution") or "")}
    return None


def route(session: Session, complaint: Complaint) -> Route | None:
    """Where the customer hears from us: the channel they came from (see the module)."""
    customer = complaint.customer
    phone = complaint.contact_phone or customer.phone
    mail = complaint.contact_email or customer.email
    gateway = next((e for e in endpoints(session) if e.kind == "sms"), None)
    by_sms = Route("sms", phone, gateway.id) if phone and gateway is not None else None
    by_mail = Route("email", mail, None) if mail else None
    if complaint.channel == "email":
        return by_mail or by_sms
    return by_sms or by_mail


def values(
    session: Session, complaint: Complaint, locale: str, extra: dict[str, str]
) -> dict[str, str]:
    base = public_url.base_url(session)
    link = public_url.tracking_link(base, complaint.tracking_token)
    stage = session.get(Stage, complaint.stage)
    stage_name = stage.public_name or stage.name if stage is not None else ""
    if locale == "en" and stage_name:
        stage_name = translations("en").gettext(stage_name)
    return {
        "number": complaint.number,
        "title": complaint.title,
        "name": complaint.contact_name or complaint.customer.name,
        "stage": stage_name,
        "link": link,
        "optout_link": f"{link}#notify",
        "accept_link": f"{link}?decision=accept#confirm",
        "reject_link": f"{link}?decision=reject#confirm",
        **extra,
    }


def enqueue(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    what: str,
    extra: dict[str, str],
    key: str,
) -> bool:
    """Writes the outbox row of one customer message; False when there is nobody to reach."""
    target = route(session, complaint)
    if target is None:
        return False
    locale = customer_texts.locale_of(complaint.locale)
    template = customer_texts.get(session, what, locale)
    subject, body, sms = customer_texts.render(template, values(session, complaint, locale, extra))
    now = clock.now()
    data: dict[str, Any] = {
        "complaint": complaint.number,
        "customer": True,
        "locale": locale,
    }
    if target.channel == "email":
        data["in_reply_to"] = _previous_mail(session, complaint)
    rows = _Rows()
    rows.outbox.append(
        {
            "dedup_key": key[:255],
            "channel": target.channel,
            "endpoint_id": target.endpoint_id,
            "user_id": None,
            "complaint_id": complaint.id,
            "recipient": target.recipient[:255],
            "event": f"{PREFIX}{what}",
            "title": subject,
            "body": body if target.channel == "email" else sms,
            "data": data,
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "last_error": "",
            "created_at": now,
            "delivered_at": None,
        }
    )
    rows.write(session)
    return True


def _previous_mail(session: Session, complaint: Complaint) -> int | str | None:
    """What the new email answers (its In-Reply-To): the customer's own last mail when email
    intake recorded its Message-ID on the event (``data["message_id"]``) and it is newer than
    our last email to them, else our last email's outbox id (delivery makes its Message-ID)."""
    ours = session.execute(
        select(OutboxMessage.id, OutboxMessage.created_at)
        .where(
            OutboxMessage.complaint_id == complaint.id,
            OutboxMessage.channel == "email",
            OutboxMessage.event.like(f"{PREFIX}%"),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    theirs = session.execute(
        select(ComplaintEvent.data, ComplaintEvent.at)
        .where(
            ComplaintEvent.complaint_id == complaint.id,
            ComplaintEvent.actor_kind == "customer",
            ComplaintEvent.kind.in_(("created", "customer_message")),
        )
        .order_by(ComplaintEvent.id.desc())
        .limit(1)
    ).first()
    if theirs is not None:
        inbound = (theirs.data or {}).get("message_id")
        newer = ours is None or theirs.at >= ours.created_at
        if newer and isinstance(inbound, str) and _MESSAGE_ID.fullmatch(inbound.strip()):
            return inbound.strip()
    return int(ours.id) if ours is not None else None


def set_opt_out(
    session: Session, clock: Clock, actor: Actor, customer: Customer, opt_out: bool
) -> bool:
    """The customer stops (or resumes) all messages but the acknowledgement; audited.
    Returns whether anything changed."""
    if (customer.notify_opt_out_at is not None) == opt_out:
        return False
    customer.notify_opt_out_at = clock.now() if opt_out else None
    record_audit(
        session,
        clock,
        actor,
        "customer.notify_opt_out" if opt_out else "customer.notify_opt_in",
        "customer",
        str(customer.id),
        {"opt_out": opt_out},
    )
    return True
