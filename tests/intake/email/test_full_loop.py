"""The whole loop on real servers: a customer's mail (dovecot) becomes a complaint, notify's
acknowledgement and a staff message reach a real SMTP server (aiosmtpd), and the customer's
reply to that message — built the way a mail client answers it — threads back."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.intake.email import poller
from tests.flows import make_staff, note, worker
from tests.intake.email import mails
from tests.notify.test_outbox import smtp_server  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("dovecot")


def answer(ours: EmailMessage, body: str) -> bytes:
    """What the customer's client sends when they press Reply on our mail."""
    reply = EmailMessage()
    reply["From"] = mails.CUSTOMER
    reply["To"] = str(ours["Reply-To"] or ours["From"])
    reply["Subject"] = "Re: " + str(ours["Subject"])
    reply["Message-ID"] = "<reply-77@example.com>"
    reply["In-Reply-To"] = str(ours["Message-ID"])
    reply["References"] = f"{str(ours['References']).strip()} {str(ours['Message-ID']).strip()}"
    quoted = "\n".join("> " + line for line in ours.get_content().splitlines())
    reply.set_content(f"{body}\n\n{quoted}")
    return reply.as_bytes()


def test_acknowledgement_and_staff_message_are_received_and_the_reply_threads_back(
    db,
    clock,
    mail_settings,
    account,
    make_mailbox,
    smtp_server,  # noqa: F811
):
    inbox, port = smtp_server
    mail_settings.smtp_host, mail_settings.smtp_port = "127.0.0.1", port
    mail_settings.smtp_from = "kesu@kesu-shop.com"
    mail_settings.email_reply_to = account.username
    make_staff(db, clock)
    make_mailbox(account)
    account.append(mails.raw(mails.new_mail(message_id="<first-9@example.com>")))
    assert poller.poll_due(db, clock, mail_settings) == 1
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint))
        number, complaint_id = complaint.number, complaint.id
    run = worker(db, mail_settings, clock)
    run.run_until_idle()
    [ack] = inbox.messages
    assert f"[{number}]" in str(ack["Subject"])
    assert re.fullmatch(rf"<kesu\.{number}\.\d+@kesu-shop\.com>", str(ack["Message-ID"]))
    assert str(ack["Reply-To"]) == account.username  # so the reply reaches the mailbox
    note(db, clock, complaint_id, True, "agent_a")  # a public message from staff
    run.run_until_idle()
    _ack, message = inbox.messages
    assert str(message["Message-ID"]) != str(ack["Message-ID"])
    # The customer answers the staff message (the client keeps the number in the subject;
    # strip it to prove the headers alone thread it).
    raw = answer(message, "好的，我明天在家，可以上门取件。")
    raw = raw.replace(f"[{number}]".encode(), b"")
    account.append(raw)
    clock.advance(timedelta(minutes=1))  # the mailbox's next turn
    assert poller.poll_due(db, clock, mail_settings) == 1
    with db.session(write=False) as session:
        assert len(list(session.scalars(select(Complaint)))) == 1
        replies = list(
            session.scalars(
                select(ComplaintEvent).where(
                    ComplaintEvent.complaint_id == complaint_id,
                    ComplaintEvent.kind == "customer_message",
                )
            )
        )
    assert [r.body for r in replies] == ["好的，我明天在家，可以上门取件。"]
    assert replies[0].data["message_id"] == "<reply-77@example.com>"
    # The customer's own messages are not echoed back to them.
    run.run_until_idle()
    assert len(inbox.messages) == 2
    # Staff answer again: the mail answers the customer's reply (its Message-ID, kept on the
    # timeline event by the intake), so their client shows one thread.
    clock.advance(timedelta(minutes=5))
    note(db, clock, complaint_id, True, "agent_a")
    run.run_until_idle()
    third = inbox.messages[2]
    assert str(third["In-Reply-To"]).strip() == "<reply-77@example.com>"
    assert f"[{number}]" in str(third["Subject"])
