"""The rollups: sums of complaint facts per local day and *cube*, kept incrementally.

- ``apply(session, ids)`` recomputes the facts of these complaints, subtracts each one's
  stored fact from the rollups and adds the new one (nothing changes when the fact did not):
  running it twice gives the same sums (idempotent).
- ``catch_up`` (the worker, every pass) reads ``complaint_events`` after the cursor
  (``analytics_cursor``) in batches and applies the complaints they name, then moves the
  cursor, in one transaction: the intake write path does no analytics work at all.
- ``rebuild`` throws the facts and rollups away and computes them from the tables (the same
  fact function, so the same numbers): ``kesu analytics rebuild``, and the end of ``kesu demo``.

A query reads the smallest cube that carries every dimension it filters or groups on; the
full cube (every dimension) is the fallback. The cubes' sizes are bounded by the number of
days × the values of their dimensions, whatever the number of complaints; the full cube's
grows with the complaints (up to one row per complaint), so a combination it alone covers
(e.g. channel with region) is not flat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, case, cast, delete, func, select, type_coerce
from sqlalchemy.orm import Session

from kesu.analytics import facts as F
from kesu.analytics.models import AnalyticsCursor, Fact, Rollup
from kesu.bulk import insert_rows
from kesu.clock import Clock
from kesu.complaints.models import Complaint, ComplaintEvent

if TYPE_CHECKING:
    from kesu.analytics.service import Filters

# Cubes by position (the ``cube`` column); order = smallest first. Never renumber: a new
# cube goes at the end (and needs a rebuild).
CUBES: tuple[tuple[str, ...], ...] = (
    (),
    ("team_id",),
    ("channel",),
    ("team_id", "category_id"),
    ("team_id", "channel"),
    ("team_id", "handler_id"),
    ("team_id", "region"),
    ("region", "product"),
    ("team_id", "product"),
    F.DIMS,
    ("team_id", "category_id", "channel"),
    ("team_id", "category_id", "region"),
    ("team_id", "category_id", "product"),
    ("product",),
    ("region",),
)
# The order in which a query looks for a cube (smallest expected size first).
SEARCH = (0, 1, 2, 13, 14, 4, 6, 5, 3, 8, 7, 10, 11, 12, 9)
KEY = ("cube", "day", *F.DIMS)
CURSOR = "rollups"
EVENT_BATCH = 5000
SETTLE = timedelta(minutes=2)  # an event this old is committed (write transactions are short)
FLUSH_KEYS = 100_000


def _table() -> Any:
    return Rollup.__table__


def cube_for(needed: set[str]) -> int:
    for index in SEARCH:
        if needed <= set(CUBES[index]):
            return index
    return len(CUBES) - 1


def _keys(day: date, dims: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rollup key of a fact in every cube."""
    out = []
    for index, cube in enumerate(CUBES):
        key = tuple(
            value if name in cube else (0 if name in F.INT_DIMS else "")
            for name, value in zip(F.DIMS, dims, strict=True)
        )
        out.append((index, day, *key))
    return out


def _add(
    sums: dict[tuple[Any, ...], list[int]],
    day: date,
    dims: Sequence[Any],
    measures: Sequence[int],
    sign: int,
) -> None:
    for key in _keys(day, dims):
        slot = sums.get(key)
        if slot is None:
            slot = sums[key] = [0] * len(F.MEASURES)
        for i, value in enumerate(measures):
            slot[i] += sign * value


def _write(session: Session, sums: dict[tuple[Any, ...], list[int]]) -> None:
    """Adds these sums to the rollups (insert, or add to the existing row)."""
    rows = [
        dict(zip(KEY, key, strict=True)) | dict(zip(F.MEASURES, values, strict=True))
        for key, values in sums.items()
        if any(values)
    ]
    if not rows:
        return
    table = _table()
    statement = _insert(session)(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: table.c[name] + statement.excluded[name] for name in F.MEASURES},
    )
    for start in range(0, len(rows), 5000):
        session.execute(statement, rows[start : start + 5000])


def _insert(session: Session) -> Any:
    """The dialect's INSERT (with ON CONFLICT)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def apply(session: Session, complaint_ids: Iterable[int]) -> int:
    """Brings the facts (and rollups) of these complaints up to date; returns how many
    facts changed."""
    ids = sorted(set(complaint_ids))
    changed = 0
    for start in range(0, len(ids), F.BATCH):
        changed += _apply(session, ids[start : start + F.BATCH])
    return changed


def _apply(session: Session, ids: list[int]) -> int:
    new = F.compute(session, ids)
    old = {
        row.complaint_id: row
        for row in session.scalars(select(Fact).where(Fact.complaint_id.in_(ids)))
    }
    sums: dict[tuple[Any, ...], list[int]] = {}
    gone: list[int] = []
    fresh: list[dict[str, Any]] = []
    for cid in ids:
        before, after = old.get(cid), new.get(cid)
        if (
            before is not None
            and after is not None
            and (
                before.day == after.day
                and tuple(before.dims) == after.dims
                and tuple(before.measures) == after.measures
            )
        ):
            continue
        if before is not None:
            _add(sums, before.day, before.dims, before.measures, -1)
            gone.append(cid)
        if after is not None:
            _add(sums, after.day, after.dims, after.measures, 1)
            fresh.append(_fact_row(after))
    if gone:
        session.execute(delete(Fact).where(Fact.complaint_id.in_(gone)))
    if fresh:
        insert_rows(session, Fact.__table__, fresh)  # type: ignore[arg-type]
    _write(session, sums)
    return len(set(gone) | {row["complaint_id"] for row in fresh})


def _fact_row(fact: F.Fact) -> dict[str, Any]:
    return {
        "complaint_id": fact.complaint_id,
        "day": fact.day,
        "dims": list(fact.dims),
        "measures": list(fact.measures),
    }


def catch_up(session: Session, clock: Clock, limit: int = EVENT_BATCH) -> int:
    """One batch of complaint events after the cursor into the rollups; returns how many
    events the cursor moved over (less than ``limit``: caught up). The caller commits."""
    locked = (
        select(AnalyticsCursor)
        .where(AnalyticsCursor.name == CURSOR)
        .with_for_update(skip_locked=True)  # PostgreSQL: another worker has it → skip
    )
    cursor = session.scalar(locked)
    if cursor is None:
        if session.scalar(select(AnalyticsCursor.name).where(AnalyticsCursor.name == CURSOR)):
            return 0  # another worker is applying a batch now
        session.execute(  # the first pass ever; two workers may both get here
            _insert(session)(AnalyticsCursor.__table__)
            .values(name=CURSOR, last_id=0, updated_at=clock.now())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        cursor = session.scalar(locked)
        if cursor is None:
            return 0
    rows = session.execute(
        select(ComplaintEvent.id, ComplaintEvent.complaint_id, ComplaintEvent.at)
        .where(ComplaintEvent.id > cursor.last_id)
        .order_by(ComplaintEvent.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    ids = {row.complaint_id for row in rows}
    # A new repeat changes the first-contact resolution of the complaint it repeats.
    ids |= {
        rid
        for rid in session.scalars(
            select(Complaint.repeat_of_id).where(
                Complaint.id.in_(ids), Complaint.repeat_of_id.is_not(None)
            )
        )
        if rid is not None
    }
    apply(session, ids)
    # On PostgreSQL ids are handed out before commit, so a lower id can appear after a
    # higher one: the cursor moves only over events older than SETTLE; newer ones are read
    # (and applied, idempotently) again next pass until they are.
    settled_before = clock.now() - SETTLE
    settled = 0
    for row in rows:
        if row.at > settled_before:
            break
        cursor.last_id = row.id
        settled += 1
    cursor.updated_at = clock.now()
    return settled


def catch_up_all(db: Any, clock: Clock, limit: int = EVENT_BATCH, passes: int = 20) -> int:
    """Worker pass: batches until caught up (at most ``passes`` of them), one transaction
    each."""
    total = 0
    for _ in range(passes):
        with db.session() as session:
            read = catch_up(session, clock, limit)
        total += read
        if read < limit:
            break
    return total


def rebuild(db: Any, clock: Clock, progress: Any = None) -> int:
    """Recomputes every fact and rollup from the tables; returns the number of facts."""
    with db.session() as session:
        last_event = session.scalar(select(func.max(ComplaintEvent.id))) or 0
        session.execute(delete(Rollup))
        session.execute(delete(Fact))
        cursor = session.get(AnalyticsCursor, CURSOR)
        if cursor is None:
            session.add(AnalyticsCursor(name=CURSOR, last_id=last_event, updated_at=clock.now()))
        else:
            cursor.last_id = last_event
            cursor.updated_at = clock.now()
        # Everything up to ``last_event`` is in what follows; later events are the worker's.
        after = 0
        made = 0
        sums: dict[tuple[Any, ...], list[int]] = {}
        while True:
            ids = session.scalars(
                select(Complaint.id)
                .where(Complaint.id > after)
                .order_by(Complaint.id)
                .limit(F.BATCH * 5)
            ).all()
            if not ids:
                break
            after = ids[-1]
            computed = [f for f in F.compute(session, ids).values() if f is not None]
            insert_rows(session, Fact.__table__, [_fact_row(f) for f in computed])  # type: ignore[arg-type]
            for fact in computed:
                _add(sums, fact.day, fact.dims, fact.measures, 1)
            made += len(computed)
            if len(sums) > FLUSH_KEYS:
                _write(session, sums)
                sums = {}
            if progress:
                progress(made)
        _write(session, sums)
    return made


def _period(session: Session, day: Any, by: str) -> Any:
    """The first day of ``day``'s period (a Monday for weeks), in SQL."""
    if by == "day":
        return day
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week" if by == "week" else "month", day), Date)
    if by == "week":  # SQLite: the Monday on or before the day
        return type_coerce(func.date(day, "-6 days", "weekday 1"), Date)
    return type_coerce(func.date(day, "start of month"), Date)


def read(
    session: Session,
    start: date,
    end: date,
    filters: Filters,
    dim: str | None,
    names: Sequence[str] = F.MEASURES,
    groups: dict[int, int] | None = None,
    by: str = "day",
) -> list[tuple[date, Any, Sequence[int]]]:
    """(day, key of ``dim``, measure sums) for local days [start, end) matching ``filters``,
    from the smallest cube that has every dimension needed. ``groups`` maps category ids to
    the category they are counted under (``dim == "category_id"``); ``by`` (day, week,
    month) sums the days of each period in SQL (the first column is then its first day)."""
    from kesu.analytics.service import category_scope

    needed = filters.dims() | ({dim} if dim else set())
    cube = cube_for(needed)
    table = _table()
    sums = [func.sum(table.c[name]) for name in names]
    key: Any = table.c[dim] if dim else None
    if dim == "category_id" and groups:  # grouped in SQL: a few rows per day, not hundreds
        key = case(groups, value=table.c.category_id, else_=table.c.category_id)
    columns = [_period(session, table.c.day, by)] + ([key] if key is not None else [])
    query = select(*columns, *sums).where(
        table.c.cube == cube, table.c.day >= start, table.c.day < end
    )
    if filters.team_id is not None:
        query = query.where(table.c.team_id == filters.team_id)
    if filters.category_id is not None:
        query = query.where(table.c.category_id.in_(category_scope(session, filters.category_id)))
    for name in ("channel", "region", "product"):
        value = getattr(filters, name)
        if value is not None:
            query = query.where(table.c[name] == value)
    query = query.group_by(*columns)
    out: list[tuple[date, Any, Sequence[int]]] = []
    skip = 2 if dim else 1
    for row in session.execute(query).all():
        out.append((row[0], row[1] if dim else None, [int(v or 0) for v in row[skip:]]))
    return out
