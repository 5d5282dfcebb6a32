"""Bounded request parameters: one place that says what an id, a number or a text may be.

Routes annotate their path and query parameters with these types, so FastAPI refuses a value
out of range with a 422 naming the parameter (``errors.py`` renders it) before any query runs:
an id beyond 32 bits, ``²`` (a Unicode digit ``str.isdigit()`` accepts and ``int()`` or the
database does not), a 10 000-character reference. Form fields are parsed with ``form_int``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from kesu.errors import InvalidInput
from kesu.web.i18n import gettext as _

ID_MAX = 2**31 - 1  # ids are 32-bit on PostgreSQL (integer); bigger names no row
INT_MAX = 2**31 - 1
TIME_LIMIT_MAX = 366 * 24 * 60  # a stage's time limit in minutes: at most a year

# A row id in the path.
Id = Annotated[int, Path(ge=1, le=ID_MAX)]
# A complaint in the path: its id or its number (TS20261123-0001).
ComplaintRef = Annotated[str, Path(min_length=1, max_length=40)]
# A code or name in the path (a stage, a calendar, a username, a tracking token).
Code = Annotated[str, Path(min_length=1, max_length=64)]
Token = Annotated[str, Path(min_length=1, max_length=128)]
# Query parameters: an optional id, a short text, a team/user reference.
QueryId = Annotated[int | None, Query(ge=1, le=ID_MAX)]
QueryText = Annotated[str | None, Query(max_length=200)]
QueryRef = Annotated[str | None, Query(max_length=64)]
QueryCode = Annotated[str, Query(max_length=64)]
# Where to go after a form or a switch (a local path; templating.safe_next checks it).
NextUrl = Annotated[str, Query(max_length=2000)]


def is_plain_int(text: str, max_digits: int = 10) -> bool:
    """ASCII digits only (``str.isdigit()`` also accepts ``²`` and ``٣``), not too many."""
    return text.isascii() and text.isdigit() and 0 < len(text) <= max_digits


def parse_int(text: str, field: str, low: int = 1, high: int = ID_MAX) -> int:
    """``text`` as an integer in [low, high]; otherwise InvalidInput naming ``field``."""
    value = text.strip()
    negative = value.startswith("-")
    digits = value[1:] if negative else value
    if not is_plain_int(digits, len(str(max(abs(low), abs(high))))):
        raise InvalidInput(_("%(field)s 应为整数") % {"field": field}, field=field)
    number = -int(digits) if negative else int(digits)
    if not low <= number <= high:
        raise InvalidInput(
            _("%(field)s 应在 %(low)s 到 %(high)s 之间")
            % {"field": field, "low": low, "high": high},
            field=field,
        )
    return number


def form_int(text: str, field: str, low: int = 1, high: int = ID_MAX) -> int | None:
    """An optional integer form field: empty → None, else ``parse_int``."""
    value = text.strip()
    return parse_int(value, field, low, high) if value else None
