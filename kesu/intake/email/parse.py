"""Reading one raw email: who sent it, what it says, its attachments, its thread, its kind.

``parse(raw)`` never raises. The standard library's parser (``policy.default``) does the MIME
work; everything it leaves wrong is repaired here: undeclared or wrongly declared charsets
(GBK mail labelled gb2312, 8-bit headers without RFC 2047, Big5 labelled nothing …) are tried
against the declared charset's superset and then detected with charset-normalizer; what still
cannot be read is named in ``problems`` and the message goes to review instead of becoming a
complaint with garbage in it. HTML is reduced to text with BeautifulSoup (no markup survives).
"""

from __future__ import annotations

import email
import email.header
import email.utils
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from typing import Any

from bs4 import BeautifulSoup
from charset_normalizer import from_bytes

NUMBER = re.compile(r"TS\d{8}-\d{1,12}")
KESU_ID = re.compile(r"kesu\.(TS\d{8}-\d{1,12})", re.IGNORECASE)
MSGID = re.compile(r"<([^<>\s]{1,250})>")
ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"
)
MAX_TEXT = 20000
MAX_PARTS = 200  # a MIME tree larger than this is read only this far
# What detection may answer: the charsets Chinese (and other) mail really comes in.
DETECT = ["utf_8", "gb18030", "big5", "utf_16", "shift_jis", "euc_kr", "cp1252", "koi8_r"]

# Supersets of the charsets mail clients declare: a GBK mail labelled gb2312 is common.
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "ascii": "utf-8",
    "us-ascii": "utf-8",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
}

AUTO_SUBJECT = re.compile(
    r"自动回复|自動回覆|自动答复|自動回复|休假|不在办公室|外出"
    r"|^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|autoreply|vacation)\b",
    re.IGNORECASE,
)
BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable|undelivered mail|delivery status notification|mail delivery failed"
    r"|returned mail|failure notice|delivery failure)|退信|投递失败|无法投递|系统退信",
    re.IGNORECASE,
)
BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounce[s]?)([+@]|$)", re.I)
QUOTE_MARKERS = re.compile(
    r"^\s*(-{2,}\s*(original message|原始邮件|原始郵件|forwarded message|转发邮件)\s*-{2,}"
    r"|_{10,}"
    r"|on .{1,200} wrote:\s*$"
    r"|在 ?.{1,200}(写道|寫道)[:：]\s*$"
    r"|(发件人|發件人|from)\s*[:：].{1,300}$"
    r")",
    re.IGNORECASE,
)


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_name: str = ""
    from_addr: str = ""
    subject: str = ""
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    loop: str = ""  # why this mail must not become a complaint: auto_reply, bounce, list …
    problems: list[str] = field(default_factory=list)  # what could not be decoded

    @property
    def thread_ids(self) -> list[str]:
        return [*self.in_reply_to, *self.references]

    def numbers(self) -> list[str]:
        """Tracking numbers this mail refers to: the subject first, then its thread headers."""
        found = NUMBER.findall(self.subject)
        for ref in self.thread_ids:
            found.extend(KESU_ID.findall(ref))
        return list(dict.fromkeys(n.upper() for n in found))


def parse(raw: bytes) -> ParsedMail:
    """Reads ``raw``; never raises (a message it cannot read at all has ``problems``)."""
    mail = ParsedMail()
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the parser is meant to be lenient; never trust that
        mail.problems.append(f"unparseable: {type(exc).__name__}")
        return mail
    try:
        _read(message, mail)
    except Exception as exc:
        mail.problems.append(f"unreadable: {type(exc).__name__}: {exc}"[:200])
    return mail


def _read(message: Message, mail: ParsedMail) -> None:
    plain: list[str] = []
    html: list[str] = []
    charsets: list[str] = []
    for count, part in enumerate(message.walk()):
        if count >= MAX_PARTS:
            mail.problems.append("too many MIME parts")
            break
        _part(part, mail, plain, html, charsets)
    # Raw 8-bit headers are most likely in the body's charset (too short to detect alone).
    hint = next((c for c in charsets if c not in ("utf-8", "ascii")), None)
    mail.message_id = _first_id(header(message, "Message-ID"))
    mail.in_reply_to = _ids(header(message, "In-Reply-To"))
    mail.references = _ids(header(message, "References"))
    mail.subject = " ".join(header(message, "Subject", hint).split())[:1000]
    name, addr = email.utils.parseaddr(header(message, "From", hint))
    if not addr:
        name, addr = email.utils.parseaddr(header(message, "Sender", hint))
    addr = addr.strip().lower()
    mail.from_addr = addr if ADDRESS.match(addr) else ""
    if addr and not mail.from_addr:
        mail.problems.append("sender address not understood")
    mail.from_name = " ".join(name.split())[:128] or (mail.from_addr.split("@")[0])
    mail.loop = loop_reason(message, mail)
    for i, item in enumerate(mail.attachments):
        item.filename = repair(item.filename, hint) or item.filename
        mail.attachments[i] = item
    if plain:
        text = "\n\n".join(plain)
    elif html:
        text = "\n\n".join(html_to_text(h) for h in html)
    else:
        text = ""
    mail.body = clean_text(text)


def _part(
    part: Message, mail: ParsedMail, plain: list[str], html: list[str], charsets: list[str]
) -> None:
    if part.is_multipart():
        return
    ctype = part.get_content_type()
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text, charset = _decode_part(part)
        if charset is None:
            mail.problems.append(f"{ctype}: charset not understood")
        elif text.strip():
            charsets.append(charset)
        (plain if ctype == "text/plain" else html).append(text)
        return
    if ctype.startswith("message/") and ctype != "message/rfc822":
        return  # delivery reports and the like: not the customer's files
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes) and payload:
        if not filename:
            extension = mimetypes.guess_extension(ctype) or ".bin"
            filename = f"attachment-{len(mail.attachments) + 1}{extension}"
        mail.attachments.append(Attachment(filename, ctype, payload))


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    name = name.replace("\x00", "") if name else ""
    name = re.sub(r"[\x00-\x1f/\\]", "_", name).strip(" .")
    return name[-200:]


def _decode_part(part: Message) -> tuple[str, str | None]:
    """The text of a text part and the charset that decoded it (None: it did not)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    try:
        declared = part.get_content_charset()
    except Exception:
        declared = None
    return decode_bytes(payload, declared)


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decodes ``data``: the declared charset (or its superset), UTF-8, then detection.
    Returns the text and the charset used (None: nothing fitted; the text has U+FFFD)."""
    if not data:
        return "", "utf-8"
    tried: list[str] = []
    if declared:
        declared = declared.strip().strip('"').lower()
        tried.append(SUPERSETS.get(declared, declared))
    tried.append("utf-8")
    for charset in tried:
        try:
            return data.decode(charset), charset
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        best = from_bytes(data[:200_000], cp_isolation=DETECT).best()
    except Exception:
        best = None
    if best is not None and best.encoding:
        charset = SUPERSETS.get(best.encoding.replace("_", "-"), best.encoding)
        try:
            return data.decode(charset), charset
        except (LookupError, UnicodeDecodeError):
            pass
    return data.decode("utf-8", "replace"), None


def repair(value: str, hint: str | None = None) -> str:
    """A string that carries raw 8-bit bytes (``surrogateescape``) decoded properly: first in
    ``hint`` (the body's charset), then as the bytes themselves suggest."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    if hint:
        try:
            return raw.decode(hint)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(raw, None)[0]


UNFOLD = re.compile(r"\r?\n[ \t]+")


def header(message: Message, name: str, hint: str | None = None) -> str:
    """A header's value, decoded whatever its state (RFC 2047, raw 8-bit, broken)."""
    raw = None
    for key, value in _raw_items(message):
        if key.lower() == name.lower():
            raw = value
            break
    if raw is None:
        return ""
    raw = str(raw)
    if any("\udc80" <= ch <= "\udcff" for ch in raw):
        # The parser turns raw 8-bit header bytes into U+FFFD; decode them ourselves.
        text = repair(UNFOLD.sub(" ", raw), hint)
    else:
        try:
            text = str(message.get(name) or "")
        except Exception:
            text = UNFOLD.sub(" ", raw)
    if "=?" in text:  # encoded words the parser left alone (bad charset name, bad encoding …)
        text = _decode_words(text)
    return text.replace("\x00", "").strip()


def _raw_items(message: Message) -> list[tuple[str, Any]]:
    try:
        return list(message.raw_items())
    except Exception:
        return []


def _decode_words(text: str) -> str:
    try:
        chunks = email.header.decode_header(text)
    except Exception:
        return text
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset)[0])
        else:
            out.append(chunk)
    return "".join(out)


def _ids(value: str) -> list[str]:
    return MSGID.findall(value)[:100]


def _first_id(value: str) -> str:
    ids = MSGID.findall(value)
    if ids:
        return str(ids[0])
    value = value.strip()
    return value[:250] if value and " " not in value else ""


def loop_reason(message: Message, mail: ParsedMail) -> str:
    """Why this mail is machine-made (no complaint from it), or ``""``."""
    ctype = message.get_content_type()
    report = message.get_param("report-type", header="content-type")
    if ctype == "multipart/report" or str(report or "").lower() == "delivery-status":
        return "bounce"
    if BOUNCE_SENDERS.match(mail.from_addr or ""):
        return "bounce"
    return_path = header(message, "Return-Path").strip()
    if return_path in ("<>", "<", "") and "Return-Path" in message:
        return "bounce"
    auto = header(message, "Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return "auto_reply"
    if header(message, "X-Autoreply") or header(message, "X-Autorespond"):
        return "auto_reply"
    precedence = header(message, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return {"list": "list", "auto_reply": "auto_reply"}.get(precedence, "bulk")
    if header(message, "List-Id") or header(message, "List-Unsubscribe"):
        return "list"
    if BOUNCE_SUBJECT.search(mail.subject):
        return "bounce"
    if AUTO_SUBJECT.search(mail.subject):
        return "auto_reply"
    return ""


def html_to_text(html: str) -> str:
    """Visible text of an HTML body: scripts, styles and every tag gone, blocks on lines."""
    try:
        soup = BeautifulSoup(html, "html.parser")
        for tag in soup(["script", "style", "head", "title", "meta", "noscript", "template"]):
            tag.decompose()
        for quote in soup.find_all("blockquote"):
            quote.decompose()  # quoted history in replies
        for br in soup.find_all("br"):
            br.replace_with("\n")
        return soup.get_text("\n")
    except Exception:
        return re.sub(r"<[^>]*>", " ", html)


def clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "".join(ch for ch in text if ch in "\n\t" or ch >= " " or ch == "\u3000")
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if out and not out[-1] and not line:
            continue
        out.append(line)
    return "\n".join(out).strip()[:MAX_TEXT]


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted lines (``>``) and the history under a marker go."""
    kept: list[str] = []
    for line in text.split("\n"):
        if QUOTE_MARKERS.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    result = clean_text("\n".join(kept))
    return result or text
