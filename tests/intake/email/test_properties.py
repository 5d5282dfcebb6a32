"""Property: arbitrary MIME trees, charsets and transfer encodings never crash the parser, and
the take-in always records the message (a complaint, a reply, ignored or review; never lost)."""

from __future__ import annotations

import contextlib
import itertools
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kesu.accounts import service as accounts
from kesu.intake.email import intake, mailboxes
from kesu.intake.email.mailboxes import MailboxConfig
from kesu.intake.email.models import InboundMessage, Mailbox
from kesu.intake.email.parse import parse

CHARSETS = ["utf-8", "gbk", "gb2312", "gb18030", "big5", "iso-8859-1", "us-ascii", "x-bogus", ""]
ENCODINGS = ["base64", "quoted-printable", "8bit", "7bit", "x-weird", ""]
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200
) | st.sampled_from(["投诉：杯子碎了", "手機螢幕裂痕", "=?gbk?B?1tA=?=", "\r\n.\r\n", ""])


def _leaf(draw) -> Message:
    ctype = draw(
        st.sampled_from(
            [
                "text/plain",
                "text/html",
                "application/pdf",
                "image/png",
                "message/delivery-status",
                "application/octet-stream",
            ]
        )
    )
    maintype, subtype = ctype.split("/")
    part = MIMENonMultipart(maintype, subtype)
    charset = draw(st.sampled_from(CHARSETS))
    if charset:
        part.set_param("charset", charset)
    body = draw(st.binary(max_size=300) | TEXT.map(lambda t: t.encode("utf-8")))
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding:
        part["Content-Transfer-Encoding"] = encoding
    part.set_payload(body.decode("latin-1"))
    if draw(st.booleans()):
        part.add_header("Content-Disposition", "attachment", filename=draw(TEXT) or "f")
    return part


@st.composite
def trees(draw, depth: int = 0) -> Message:
    if depth >= 3 or draw(st.booleans()):
        return _leaf(draw)
    subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report"]))
    container = MIMEMultipart(subtype, boundary=f"==kesu-{depth}==")  # no random boundary
    for _ in range(draw(st.integers(0, 3))):
        container.attach(draw(trees(depth + 1)))
    return container


@st.composite
def raw_mails(draw) -> bytes:
    message = draw(trees())
    for name in ("From", "Subject", "Message-ID", "In-Reply-To", "References", "Auto-Submitted"):
        if draw(st.booleans()):
            value = draw(TEXT | st.sampled_from(["a@example.com", "张 <z@example.com>", "<>"]))
            with contextlib.suppress(Exception):
                message[name] = value
    try:
        raw = message.as_bytes()
    except Exception:
        raw = b"From: x@example.com\r\n\r\n"
    if draw(st.booleans()):  # cut anywhere, or splice raw bytes in: broken MIME
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=40)) + raw[cut:]
    return raw


@settings(max_examples=300, deadline=None)
@given(raw=raw_mails())
def test_the_parser_never_raises(raw):
    mail = parse(raw)
    assert isinstance(mail.body, str) and len(mail.body) <= 20000
    assert all(isinstance(a.data, bytes) for a in mail.attachments)


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_the_parser_never_raises_on_random_bytes(raw):
    parse(raw)


def test_take_in_always_records_the_message(db, clock):
    from kesu.config import Settings

    config = Settings(database_url=db.url, environment="test")
    with db.session() as session:
        row = mailboxes.save_mailbox(
            session,
            clock,
            config,
            accounts.SYSTEM,
            {
                "code": "prop",
                "name": "p",
                "host": "127.0.0.1",
                "port": 143,
                "tls": "none",
                "username": "support@kesu-shop.com",
                "password": "x",
            },
            None,
        )
        box = MailboxConfig.of(row)
    uids = itertools.count(1)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(raw=raw_mails())
    def check(raw):
        uid = next(uids)
        outcome = intake.take_in(db, clock, box, 1, uid, raw)
        assert outcome.status in ("complaint", "reply", "ignored", "duplicate", "review")
        with db.session(write=False) as session:
            stored = session.scalar(
                select(InboundMessage).where(
                    InboundMessage.uid == uid, InboundMessage.mailbox_id == box.id
                )
            )
            assert stored is not None and stored.status == outcome.status
            if stored.status == "review":
                assert stored.raw == raw

    check()
    with db.session(write=False) as session:
        assert session.get(Mailbox, box.id).last_uid == next(uids) - 1
        assert session.scalar(select(func.count()).select_from(InboundMessage)) >= 60
