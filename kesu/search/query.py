"""The workbench's ``q``: what kind of thing was typed, and the indexed condition that finds it.

``shape_of`` recognises a complaint number (TS…), an email, a phone number (digits), an
order-number-like token and a person's name; each becomes ``Complaint.id IN (…)`` over
exact or prefix look-ups on the ``(column, id)`` indexes of kesu/search/models.py, on the
complaint's contact snapshot and on the customer record, so a search costs a few index
ranges at any table size. Anything else is free text: every word of it through the
full-text index (kesu.search.matching: words inside Chinese text, the contact snapshot,
order numbers, custom fields' values).

A name is searched exactly; when nobody in the caller's scope has that name the text is
searched as free text instead (a two-character Chinese word is as often a word as a name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, exists, or_, select, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from kesu.complaints.models import Complaint, Customer
from kesu.search import index, matching

Kind = Literal["number", "email", "phone", "order", "name", "text"]

NUMBER = re.compile(r"TS(\d{8})-?(\d{1,12})", re.IGNORECASE)
PHONE = re.compile(r"\+?[0-9][0-9\- ]{5,23}")
ORDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-/.#]{3,63}")
HAN_NAME = re.compile(r"[\u3400-\u9fff·]{2,6}")
LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z.'\-]*(?: [A-Za-z][A-Za-z.'\-]*){1,3}")
WHOLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE_PREFIX_MIN = 7  # digits; a shorter prefix would match a large share of all phones
ORDER_DIGITS_MIN = 4  # "SO-5566", "JD20261201…"; not a product model like "X20" (free text)


@dataclass(frozen=True)
class Shape:
    kind: Kind
    values: tuple[str, ...]  # the forms looked up (e.g. a phone with and without +86)
    exact: bool = False  # a whole value (phone of 11 digits, full number) rather than a prefix


def shape_of(q: str) -> Shape:
    text = q.strip()
    number = NUMBER.fullmatch(text)
    if number:
        day, seq = number.groups()
        return Shape("number", (f"TS{day}-{int(seq):06d}",), exact=True)
    if "@" in text and " " not in text and len(text) <= 255:
        return Shape("email", tuple(dict.fromkeys((text, text.lower()))))
    if PHONE.fullmatch(text):
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= PHONE_PREFIX_MIN:
            forms = [digits]
            if digits.startswith("86") and len(digits) == 13:
                forms.append(digits[2:])  # +86 138…
            return Shape("phone", tuple(forms), exact=len(digits) >= 11)
    if ORDER.fullmatch(text) and sum(ch.isdigit() for ch in text) >= ORDER_DIGITS_MIN:
        return Shape("order", (text,))
    if HAN_NAME.fullmatch(text) or LATIN_NAME.fullmatch(text):
        return Shape("name", (text,), exact=True)
    return Shape("text", (text,))


@dataclass(frozen=True)
class ListPlan:
    """How a list with several scope branches reads ``q`` (``list_plan``)."""

    kind: Literal["few", "walk", "branches"]
    tokens: tuple[str, ...] = ()  # "walk": the tokens whose matches are read newest first


def list_plan(session: Session, q: str, scope: ColumnElement[bool] | None) -> ListPlan:
    """``few``: the matches are few (a number, email, phone, order number, a name somebody in
    scope has, or free text whose words are rare in the full-text index), so the list reads
    them once with the whole scope as one condition. ``walk``: free text matching many
    complaints on SQLite, read newest first from the index (kesu.search.matching
    .walks_common). ``branches``: each scope branch with ``search_condition``."""
    shape = shape_of(q)
    if shape.kind not in ("name", "text"):
        return ListPlan("few")
    if shape.kind == "name" and _is_a_name(session, shape, scope):
        return ListPlan("few")
    if not index.present(session.connection()):
        return ListPlan("branches")
    found = matching.estimate(session, shape.values[0])
    if 0 <= found.matches <= matching.FEW:
        return ListPlan("few")
    if matching.walks_common(session, found):
        return ListPlan("walk", found.tokens)
    return ListPlan("branches")


def _is_a_name(session: Session, shape: Shape, scope: ColumnElement[bool] | None) -> bool:
    """Whether somebody the caller may see has exactly this name (one probe of the indexes)."""
    ids = _matching_ids(session, shape)
    assert ids is not None
    wanted = [Complaint.id.in_(ids), *([scope] if scope is not None else [])]
    return bool(session.scalar(select(exists().where(*wanted))))


def starts_with(
    session: Session, column: InstrumentedAttribute[str | None], prefix: str
) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, in the form each database serves from an index."""
    if session.get_bind().dialect.name == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    # SQLite cannot use an index for LIKE 'p%' (it is case-insensitive): a range instead.
    return (column >= prefix) & (column < _next_string(prefix))


def _next_string(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:  # pragma: no cover - no sensible search ends on U+10FFFF
        return prefix + "\uffff"
    return prefix[:-1] + chr(last + 1)


def _either(
    session: Session,
    values: tuple[str, ...],
    column: InstrumentedAttribute[str | None],
    exact: bool,
) -> list[ColumnElement[bool]]:
    return [column == v if exact else starts_with(session, column, v) for v in values]


def _matching_ids(session: Session, shape: Shape) -> Select[Any] | None:
    """The ids of the complaints ``shape`` names, as one UNION of index look-ups."""
    parts: list[Select[Any]] = []

    def on_complaints(column: InstrumentedAttribute[str | None], exact: bool) -> None:
        for condition in _either(session, shape.values, column, exact):
            parts.append(select(Complaint.id).where(condition))

    def on_customers(column: InstrumentedAttribute[str | None], exact: bool) -> None:
        for condition in _either(session, shape.values, column, exact):
            people = select(Customer.id).where(condition)
            parts.append(select(Complaint.id).where(Complaint.customer_id.in_(people)))

    if shape.kind == "number":
        parts.append(select(Complaint.id).where(Complaint.number == shape.values[0]))
    # The customer record is looked up by whole values only: a prefix shared by thousands of
    # customers would make PostgreSQL hash-join all complaints (a scan). A prefix reads the
    # complaints' own snapshot, ordered by its (column, id) index.
    elif shape.kind == "email":
        on_complaints(Complaint.contact_email, False)
        if WHOLE_EMAIL.fullmatch(shape.values[0]):
            on_customers(Customer.email, True)
    elif shape.kind == "phone":
        on_complaints(Complaint.contact_phone, shape.exact)
        if shape.exact:
            on_customers(Customer.phone, True)
        on_complaints(Complaint.order_no, False)  # order numbers are often all digits
    elif shape.kind == "order":
        on_complaints(Complaint.order_no, False)
    elif shape.kind == "name":
        on_complaints(Complaint.contact_name, True)
        on_customers(Customer.name, True)
    else:
        return None
    if shape.kind in ("phone", "order"):  # also mentioned in a text or a custom field
        mentioned = matching.few_ids(session, shape.values[0])
        if mentioned is not None:
            parts.append(mentioned)
    if len(parts) == 1:
        return parts[0]
    return select(union(*parts).subquery().c[0])


def free_text(session: Session, text: str) -> ColumnElement[bool]:
    """Every word of ``text`` in the complaint's indexed fields (kesu.search.matching); the
    old scan while a database has no index yet (kesu.search.index.present)."""
    if not index.present(session.connection()):
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return or_(
            Complaint.title.like(like, escape="\\"),
            Complaint.order_no == text,
            Complaint.content.like(like, escape="\\"),
        )
    return matching.text_condition(session, text)


def search_condition(
    session: Session, q: str, scope: ColumnElement[bool] | None = None
) -> ColumnElement[bool]:
    """The condition for ``q`` to add to a complaint list's WHERE clause.

    ``scope`` (the caller's scope) decides whether a name-shaped ``q`` is somebody's name
    among the complaints the caller may see, else it is searched as free text."""
    shape = shape_of(q)
    ids = _matching_ids(session, shape)
    if ids is None:
        return free_text(session, shape.values[0])
    if shape.kind == "name" and not _is_a_name(session, shape, scope):
        return free_text(session, shape.values[0])
    return Complaint.id.in_(ids)
