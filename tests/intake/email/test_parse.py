"""The parser on its own: charsets, headers, HTML, quoted replies, loops, thread ids."""

from __future__ import annotations

import base64

import pytest

from kesu.intake.email.parse import clean_text, html_to_text, parse, strip_quoted
from tests.intake.email import mails


def test_plain_mail():
    mail = parse(mails.raw(mails.new_mail(message_id="<Abc@Example.com>")))
    assert (mail.from_name, mail.from_addr) == ("张伟", "zhangwei@example.com")
    assert mail.message_id == "Abc@Example.com"  # case kept (RFC 5322)
    assert mail.loop == "" and mail.problems == []


def test_gb18030_beyond_gbk_labelled_gb2312():
    text = "𠀀 emoji-free rare 㐀 字"  # characters only GB18030 has
    body = base64.b64encode(text.encode("gb18030")).decode()
    raw = (
        "From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=gb2312\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n"
    ).encode()
    assert parse(raw).body == text


def test_rfc2047_and_8bit_headers():
    assert parse(mails.gbk_mail()).subject == "电饭煲质量问题"
    assert parse(mails.big5_undeclared()).subject == "手機螢幕裂痕"
    utf8_raw = "From: 王 <w@example.com>\r\nSubject: 冰箱\r\n\r\n冰箱坏了\r\n".encode()
    mail = parse(utf8_raw)
    assert (mail.subject, mail.from_name, mail.body) == ("冰箱", "王", "冰箱坏了")


def test_html_is_reduced_to_text():
    html = (
        "<html><head><title>t</title><style>x{}</style></head><body>"
        "<p>第一段<br>第二行</p><script>steal()</script><img src=x onerror=alert(1)>"
        "<blockquote>旧邮件</blockquote><a href='javascript:x'>链接</a></body></html>"
    )
    text = clean_text(html_to_text(html))
    assert text.split("\n")[:3] == ["第一段", "", "第二行"] and "链接" in text
    for bad in ("<", "steal", "alert", "旧邮件", "x{}"):
        assert bad not in text


@pytest.mark.parametrize(
    "body",
    [
        "好的\n\n> 原来的内容\n> 第二行",
        "好的\n\n-----原始邮件-----\n发件人: 客诉中心\n内容",
        "好的\n\nOn Mon, 23 Nov 2026 at 10:00, Kesu <kesu@x.com> wrote:\n> old",
        "好的\n\n在 2026年11月23日 10:00，客诉中心 写道：\n旧的",
        "好的\n________________________________\n发件人: kesu\n",
    ],
)
def test_quoted_history_is_stripped(body):
    assert strip_quoted(body) == "好的"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
        ({"Auto_Submitted": "auto-generated"}, "auto_reply"),
        ({"X_Autoreply": "yes"}, "auto_reply"),
        ({"X_Autorespond": "yes"}, "auto_reply"),
        ({"Precedence": "junk"}, "bulk"),
        ({"Precedence": "list"}, "list"),
        ({"List_Unsubscribe": "<mailto:u@example.com>"}, "list"),
        ({"Return_Path": "<>"}, "bounce"),
        ({"Subject": "Automatic reply: hi"}, "auto_reply"),
        ({"Subject": "自動回覆：休假中"}, "auto_reply"),
        ({"Subject": "系统退信"}, "bounce"),
        ({"Auto_Submitted": "no"}, ""),
    ],
)
def test_machine_mail_is_recognised(headers, reason):
    subject = headers.pop("Subject", "快递盒子压坏了")
    assert parse(mails.raw(mails.new_mail(subject=subject, **headers))).loop == reason


def test_postmaster_and_report_bounces():
    assert parse(mails.bounce()).loop == "bounce"
    raw = mails.raw(mails.new_mail(sender="postmaster@example.net"))
    assert parse(raw).loop == "bounce"


def test_thread_numbers_from_subject_and_headers():
    mail = parse(
        mails.raw(
            mails.new_mail(
                subject="Re: [TS20261123-000007] 您的投诉",
                In_Reply_To="<kesu.TS20261123-000008.abc@kesu-shop.com>",
                References="<kesu.TS20261123-000008@kesu-shop.com> <other@x.com>",
            )
        )
    )
    assert mail.numbers() == ["TS20261123-000007", "TS20261123-000008"]
    assert "other@x.com" in mail.thread_ids


def test_attachment_names_in_any_encoding():
    mail = parse(
        mails.raw(mails.new_mail(attachment=("发票 2026.pdf", "application/pdf", b"%PDF-1.4")))
    )
    [item] = mail.attachments
    assert (item.filename, item.data) == ("发票 2026.pdf", b"%PDF-1.4")


def test_nothing_at_all():
    for raw in (b"", b"\x00\xff", b"garbage without headers", b"From: \r\n\r\n"):
        mail = parse(raw)
        assert mail.from_addr == ""
