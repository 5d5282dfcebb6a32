"""The workbench's sortable columns: keyset pages ordered by received, deadline, priority,
stage or last update, ascending or descending.

A sort is a list of *segments*, each a condition and the column that orders the rows inside
it (then ``id``, in the same direction). Most sorts have one segment; the deadline sort has
two (complaints with a deadline, then those without, in both directions), and the stage sort
one per stage in the order of the closed loop. The cursor holds the sort, the segment, the
key and the id of the last row, so the next page starts right after it; every (scope branch,
segment) query is one range scan on an index (kesu/workbench/models.py, kesu/sla/models.py),
whatever the number of complaints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from kesu.accounts.models import User
from kesu.complaints.enums import StageCategory
from kesu.complaints.models import Complaint
from kesu.complaints.queries import (
    ComplaintFilters,
    _apply_filters,
    _decode_cursor,
    _encode_cursor,
    query_branches,
    stage_names,
)
from kesu.errors import InvalidInput
from kesu.web.i18n import gettext as _

SORT_COLUMNS: dict[str, InstrumentedAttribute[Any] | None] = {
    "received": Complaint.received_at,
    "due": Complaint.due_at,
    "priority": Complaint.priority,
    "stage": None,
    "updated": Complaint.updated_at,
}
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Sort:
    """``key`` is one of SORT_COLUMNS; ``desc`` reverses key and id alike."""

    key: str
    desc: bool = False

    @classmethod
    def parse(cls, text: str) -> Sort | None:
        """``"received"`` / ``"-received"`` → a Sort; anything else → None (newest first)."""
        key = text.removeprefix("-")
        return cls(key, text.startswith("-")) if key in SORT_COLUMNS else None

    @property
    def code(self) -> str:
        return ("-" if self.desc else "") + self.key


@dataclass(frozen=True)
class Segment:
    condition: ColumnElement[bool]
    column: InstrumentedAttribute[Any] | None  # None: ordered by id alone
    # True: holds open complaints only (a deadline, an open stage); False: closed ones only
    is_open: bool | None = None


def _segments(session: Session, sort: Sort, filters: ComplaintFilters) -> list[Segment]:
    if sort.key == "due":
        return [
            Segment(Complaint.due_at.is_not(None), Complaint.due_at, is_open=True),
            Segment(Complaint.due_at.is_(None), None),
        ]
    if sort.key == "stage":
        stages = sorted(stage_names(session).values(), key=lambda s: s.position)
        if filters.open is not None:  # open stages hold only open complaints, and so on
            stages = [s for s in stages if (s.category != StageCategory.closed) == filters.open]
        if filters.stage:
            stages = [s for s in stages if s.code == filters.stage]
        segments = [
            Segment(Complaint.stage == s.code, None, is_open=s.category != StageCategory.closed)
            for s in stages
        ]
        return segments[::-1] if sort.desc else segments
    return [Segment(true(), SORT_COLUMNS[sort.key])]


Branch = tuple[ColumnElement[bool], bool | None]


def _branches(session: Session, user: User, filters: ComplaintFilters) -> list[Branch]:
    """The scope branches (``query_branches``), each with the ``is_open`` its complaints have
    (None: either)."""
    branches = query_branches(session, user, filters)
    if len(branches) == 1 and filters.open is None:
        # open and closed on their own (column, id) indexes
        return [
            (branches[0] & (Complaint.is_open == true()), True),
            (branches[0] & (Complaint.is_open == false()), False),
        ]
    return [(b, filters.open) for b in branches]


def list_sorted(
    session: Session,
    user: User,
    filters: ComplaintFilters,
    now: datetime,
    sort: Sort,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Complaint], str | None]:
    """A page of complaints in ``sort`` order and the cursor of the next page (or None)."""
    base: Select[Complaint] = _apply_filters(session, select(Complaint), filters, now, user)
    segments = _segments(session, sort, filters)
    start, after = _read_cursor(sort, cursor, segments) if cursor else (0, None)
    branches = _branches(session, user, filters)
    rows: list[tuple[int, Complaint]] = []
    for index in range(start, len(segments)):
        want = limit + 1 - len(rows)
        found = _segment_rows(session, base, branches, sort, segments[index], after, want)
        rows.extend((index, c) for c in found)
        after = None
        if len(rows) > limit:
            break
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        index, last = rows[-1]
        column = segments[index].column
        key = getattr(last, column.key) if column is not None else None
        next_cursor = _write_cursor(sort, index, key, last.id)
    return [c for _, c in rows], next_cursor


def _segment_rows(
    session: Session,
    base: Select[Complaint],
    branches: list[Branch],
    sort: Sort,
    segment: Segment,
    after: tuple[Any, int] | None,
    limit: int,
) -> list[Complaint]:
    """Up to ``limit`` rows of one segment after ``after``, merged over the scope branches.

    With several branches each reads only ``(id, key)`` and the rows of the page are loaded
    in one statement afterwards (as ``queries.list_complaints`` does)."""
    column = segment.column
    order = [Complaint.id.desc() if sort.desc else Complaint.id.asc()]
    if column is not None:
        order.insert(0, column.desc() if sort.desc else column.asc())

    def rows_of(stmt: Any) -> Any:  # a Select of any columns, narrowed to this segment
        stmt = stmt.where(segment.condition)
        if after is not None:
            mark: Any = tuple_(column, Complaint.id) if column is not None else Complaint.id
            value: Any = after if column is not None else after[1]
            stmt = stmt.where(mark < value if sort.desc else mark > value)
        return stmt

    wanted = [
        branch
        for branch, is_open in branches
        # e.g. closed complaints in an open stage: none, but the walk is long
        if None in (segment.is_open, is_open) or segment.is_open == is_open
    ]
    if len(wanted) == 1:
        query = rows_of(base).where(wanted[0]).order_by(*order).limit(limit)
        return list(session.scalars(query).unique())
    keys: dict[int, tuple[Any, ...]] = {}
    key_column = column if column is not None else Complaint.id
    for branch in wanted:
        ids = base.with_only_columns(Complaint.id, key_column, maintain_column_froms=True)
        query = rows_of(ids).where(branch).order_by(*order).limit(limit)
        for complaint_id, key in session.execute(query):
            keys[complaint_id] = (key, complaint_id)
    chosen = sorted(keys, key=keys.__getitem__, reverse=sort.desc)[:limit]
    if not chosen:
        return []
    loaded = select(Complaint).where(Complaint.id.in_(chosen))
    found = {c.id: c for c in session.scalars(loaded).unique()}
    return [found[i] for i in chosen if i in found]


def _write_cursor(sort: Sort, index: int, key: Any, last_id: int) -> str:
    """``["<sort>/<segment>/<key>", id]``: two values, as the list cursors have."""
    text = key.isoformat() if isinstance(key, datetime) else ("" if key is None else str(key))
    return _encode_cursor([f"{sort.code}/{index}/{text}", last_id])


def _bad_cursor() -> InvalidInput:
    return InvalidInput(_("分页游标无效，请从第一页重新开始"), field="cursor")


def _read_cursor(sort: Sort, cursor: str, segments: list[Segment]) -> tuple[int, tuple[Any, int]]:
    """The cursor's segment and (key, id); a 4xx naming ``cursor`` unless this sort made it."""
    values = _decode_cursor(cursor)
    try:
        head, last_id = values
        code, index_text, key = head.split("/", 2)
        index = int(index_text) if index_text.isascii() and index_text.isdigit() else -1
        if code != sort.code or not 0 <= index < len(segments) or len(index_text) > 3:
            raise ValueError
        if not _is_int(last_id) or not 0 < last_id <= MAX_ID:
            raise ValueError
        return index, (_key_value(sort, segments[index], key), last_id)
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise _bad_cursor() from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key_value(sort: Sort, segment: Segment, key: str) -> Any:
    if segment.column is None:
        if key:
            raise ValueError
        return None
    if sort.key == "priority":
        if key.isascii() and key.isdigit() and len(key) < 4:
            return int(key)
        raise ValueError
    if len(key) > 40:
        raise ValueError
    moment = datetime.fromisoformat(key)
    if moment.tzinfo is None or moment.utcoffset() is None:  # our cursors carry the zone
        raise ValueError
    return moment.astimezone(UTC)
