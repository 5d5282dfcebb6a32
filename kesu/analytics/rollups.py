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
full cube (every dimension) is the fallback. At 1,000,000 complaints over 180 days the
single-dimension cubes have tens to a few hundred rows per day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
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
)
# The order in which a query looks for a cube (smallest expected size first).
SEARCH = (0, 1, 2, 4, 6, 5, 3, 8, 7, 9)
KEY = ("cube", "day", *F.DIMS)
CURSOR = "rollups"
EVENT_BATCH = 5000
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
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: table.c[name] + statement.excluded[name] for name in F.MEASURES},
    )
    for start in range(0, len(rows), 5000):
        session.execute(statement, rows[start : start + 5000])


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
    events it read (less than ``limit``: caught up). The caller commits."""
    cursor = session.scalar(
        select(AnalyticsCursor).where(AnalyticsCursor.name == CURSOR).with_for_update()
    )
    if cursor is None:
        cursor = AnalyticsCursor(name=CURSOR, last_id=0, updated_at=clock.now())
        session.add(cursor)
        session.flush()
    rows = session.execute(
        select(ComplaintEvent.id, ComplaintEvent.complaint_id)
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
    cursor.last_id = rows[-1].id
    cursor.updated_at = clock.now()
    return len(rows)


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


def read(
    session: Session, start: date, end: date, filters: Filters, dim: str | None
) -> list[tuple[date, Any, Sequence[int]]]:
    """(day, key of ``dim``, measure sums) for local days [start, end) matching ``filters``,
    from the smallest cube that has every dimension needed."""
    from kesu.analytics.service import category_scope

    needed = filters.dims() | ({dim} if dim else set())
    cube = cube_for(needed)
    table = _table()
    sums = [func.sum(table.c[name]) for name in F.MEASURES]
    columns = [table.c.day] + ([table.c[dim]] if dim else [])
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
    for row in session.execute(query):
        if dim:
            out.append((row[0], row[1], [int(v or 0) for v in row[2:]]))
        else:
            out.append((row[0], None, [int(v or 0) for v in row[1:]]))
    return out
