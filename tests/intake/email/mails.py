"""Raw mails for the tests, built the way real clients build them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
CUSTOMER = "张伟 <zhangwei@example.com>"


def new_mail(
    subject: str = "快递盒子压坏了，里面的杯子碎了",
    body: str = "你好，我昨天收到的订单，外箱被压坏，杯子碎了两个，希望退款。",
    sender: str = CUSTOMER,
    to: str = "support@kesu-shop.com",
    attachment: tuple[str, str, bytes] | None = None,
    message_id: str | None = None,
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="example.com")
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    if attachment:
        filename, ctype, data = attachment
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def raw(msg: EmailMessage) -> bytes:
    return msg.as_bytes()


def bounce(to: str = "zhangwei@example.com") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: support@kesu-shop.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\r\n'
        "\r\n--BB\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. I'm sorry.\r\n"
        "--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--BB--\r\n"
    ).encode()


def auto_reply(subject: str = "自动回复: 您的投诉已受理") -> bytes:
    msg = new_mail(subject=subject, body="我正在休假，12月5日回来。", Auto_Submitted="auto-replied")
    return raw(msg)


def gbk_mail() -> bytes:
    """GBK bytes labelled gb2312 (what many Chinese clients send), base64, RFC 2047 subject."""
    body = "您好，我买的电饭煲用了三天就坏了，客服一直不回复。鍋".encode("gbk")
    subject = "=?gb2312?B?" + base64.b64encode("电饭煲质量问题".encode("gbk")).decode() + "?="
    return (
        "From: =?GBK?B?"
        + base64.b64encode("李娜".encode("gbk")).decode()
        + "?= <lina@example.com>\r\n"
        "To: support@kesu-shop.com\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <gbk-1@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="gb2312"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(body)


def big5_undeclared() -> bytes:
    """Big5 body, quoted-printable, no charset declared; raw 8-bit Big5 subject."""
    import quopri

    body = "您好，我在貴公司購買的手機螢幕有裂痕，收到時包裝完好，請協助換貨處理。謝謝。".encode(
        "big5"
    )
    return (
        b"From: Chen <chen@example.com.tw>\r\n"
        b"To: support@kesu-shop.com\r\n"
        b"Subject: " + "手機螢幕裂痕".encode("big5") + b"\r\n"
        b"Message-ID: <big5-1@example.com.tw>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + quopri.encodestring(body)
    )


def broken_mime() -> bytes:
    """A multipart whose boundary never closes, with a bad base64 part and an HTML part."""
    return (
        b"From: wang@example.com\r\n"
        b"Subject: =?utf-8?Q?=E5=86=B0=E7=AE=B1=E4=B8=8D=E5=88=B6=E5=86=B7?=\r\n"
        b"Message-ID: <broken-1@example.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
        + "<body><p>冰箱买回来一周就不制冷了</p><p>请尽快处理</p></body></html>".encode()
        + b"\r\n--XX\r\nContent-Type: application/pdf; name=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64@@@\r\n"
    )
