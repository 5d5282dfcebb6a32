"""Masking contact details for people who may not see them, and scrubbing erased ones.

Pure functions on strings: ``138****8000``, ``w***@example.com``. Lists mask for everyone;
the complaint page and API mask for roles without ``contact.view`` (auditor, finance).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Phone numbers as people write them in a text: 11-digit mobiles, 0xx-xxxxxxxx landlines,
# +86 prefixes, digits with spaces or dashes (``looks_like_phone`` keeps amounts and dates).
PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\+?[0-9](?:[0-9][\- ]?){5,18}[0-9](?![0-9A-Za-z])")
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
ERASED = "***"


def mask_phone(phone: str | None) -> str | None:
    if not phone or len(phone) < 7:
        return phone
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return local[:1] + "***@" + domain


def looks_like_phone(candidate: str) -> bool:
    """A mobile (1xx, 11 digits), a landline with its area code (0…), or +country…: not an
    amount, a date or an order number."""
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if candidate.startswith("+"):
        return 8 <= len(digits) <= 15
    if digits.startswith("86") and len(digits) == 13:
        return True
    return (len(digits) == 11 and digits[0] == "1") or (digits[0] == "0" and 9 <= len(digits) <= 12)


def _mask_phone_match(match: re.Match[str]) -> str:
    found = match.group(0)
    return (mask_phone(found) or "") if looks_like_phone(found) else found


def mask_text(text: str) -> str:
    """Phone numbers and emails inside a free text, masked like the contact fields."""
    if not text:
        return text
    text = EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)) or "", text)
    return PHONE_IN_TEXT.sub(_mask_phone_match, text)


def mask_json(value: Any) -> Any:
    """``mask_text`` on every string inside a JSON value (stage outputs, custom fields)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v) for v in value]
    return value


def scrub_text(text: str, values: Iterable[str]) -> str:
    """``text`` without the given values (verbatim) and without any phone number or email."""
    if not text:
        return text
    for value in sorted({v for v in values if v and len(v) >= 2}, key=len, reverse=True):
        text = text.replace(value, ERASED)
    text = EMAIL_IN_TEXT.sub(ERASED, text)
    return PHONE_IN_TEXT.sub(lambda m: ERASED if looks_like_phone(m.group(0)) else m.group(0), text)


def scrub_json(value: Any, values: Iterable[str]) -> Any:
    """``scrub_text`` on every string inside a JSON value (event data, outputs, audit rows)."""
    wanted = list(values)
    if isinstance(value, str):
        return scrub_text(value, wanted)
    if isinstance(value, dict):
        return {k: scrub_json(v, wanted) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, wanted) for v in value]
    return value
