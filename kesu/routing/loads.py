"""Open assigned complaints per person, kept as counters (``assignee_loads``).

``least_loaded`` assignment needs "how many open complaints does each candidate have". Counting
them inside the write transaction read ~100,000 index rows at 1,000,000 complaints and held the
write lock for it; the counter is one primary-key row per person.

How the counters stay right: a complaint counts for ``assignee_id`` while ``is_open`` is true.
A session hook (``after_flush``, on every session) looks at each complaint the flush inserted,
updated or deleted, compares what it counted for before and after, and adds the difference with
``INSERT … ON CONFLICT DO UPDATE SET open_count = open_count + excluded.open_count`` in the same
transaction (and the same SAVEPOINT), so every ORM path — registration, assignment, the
lifecycle, merges, bulk actions, erasure — is covered without calling anything. The increment is
done by the database, so two concurrent intakes on PostgreSQL never lose one (the second waits
for the first's row lock). Rows are written in user-id order, so two transactions touching the
same people lock them in the same order.

Writes that bypass the ORM (Core ``INSERT``/``UPDATE`` of ``complaints``) must call
``add_rows`` / ``apply`` themselves (the demo loader does). ``check`` compares the counters with
the count query and ``rebuild`` recomputes them (``kesu routing loads``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, event, func, insert, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction

from kesu.complaints.models import Complaint
from kesu.routing.models import AssigneeLoad

# The old value of these two is needed at flush time even when the attribute was not loaded
# before it was set (e.g. on an expired instance): active history loads it first.
TRACKED = ("assignee_id", "is_open")


def open_counts(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """The counters of ``user_ids`` (absent: 0). Primary-key look-ups, whatever the data size."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(AssigneeLoad.user_id, AssigneeLoad.open_count).where(AssigneeLoad.user_id.in_(ids))
    )
    return {user_id: count for user_id, count in rows}


def apply(session: Session, deltas: Mapping[int, int]) -> None:
    """Adds ``deltas`` (user id → change) to the counters in the session's transaction."""
    values = [
        {"user_id": user_id, "open_count": delta}
        for user_id, delta in sorted(deltas.items())
        if delta
    ]
    if not values:
        return
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(AssigneeLoad).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"open_count": AssigneeLoad.open_count + stmt.excluded.open_count},
    )
    connection.execute(stmt)


def add_rows(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Counts complaint rows inserted with Core (dicts with ``assignee_id`` and ``is_open``)."""
    apply(
        session,
        Counter(r["assignee_id"] for r in rows if r.get("is_open") and r.get("assignee_id")),
    )


def _counted(assignee_id: int | None, is_open: bool | None) -> int | None:
    return assignee_id if is_open and assignee_id is not None else None


def _before(complaint: Complaint, name: str) -> Any:
    """The attribute's value before this flush (its committed value)."""
    history = inspect(complaint).attrs[name].history
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    return None if history.added else getattr(complaint, name)


def flush_deltas(session: Session) -> Counter[int]:
    """What this flush changes in the counters (read in ``after_flush``: the flushed values are
    in the instances, the history still holds the values before the flush)."""
    deltas: Counter[int] = Counter()
    for obj in session.new:
        if isinstance(obj, Complaint):
            now = _counted(obj.assignee_id, obj.is_open)
            if now is not None:
                deltas[now] += 1
    for obj in session.dirty:
        if not isinstance(obj, Complaint):
            continue
        state = inspect(obj)
        if not any(state.attrs[name].history.has_changes() for name in TRACKED):
            continue
        was = _counted(_before(obj, "assignee_id"), _before(obj, "is_open"))
        now = _counted(obj.assignee_id, obj.is_open)
        if was != now:
            if was is not None:
                deltas[was] -= 1
            if now is not None:
                deltas[now] += 1
    for obj in session.deleted:
        if isinstance(obj, Complaint):
            was = _counted(_before(obj, "assignee_id"), _before(obj, "is_open"))
            if was is not None:
                deltas[was] -= 1
    return deltas


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    apply(session, flush_deltas(session))


for _name in TRACKED:
    # A no-op listener whose only job is ``active_history``: see TRACKED.
    event.listen(getattr(Complaint, _name), "set", lambda *args: None, active_history=True)


# -- check and rebuild --------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    user_id: int
    counter: int
    actual: int


def actual_counts(session: Session) -> dict[int, int]:
    """The count query the counters replace (one pass over the assignee index)."""
    rows = session.execute(
        select(Complaint.assignee_id, func.count())
        .where(Complaint.assignee_id.is_not(None), Complaint.is_open.is_(True))
        .group_by(Complaint.assignee_id)
    )
    return {user_id: count for user_id, count in rows if user_id is not None}


def check(session: Session) -> list[Difference]:
    """Every person whose counter differs from the count query (empty: all right)."""
    stored = dict(session.execute(select(AssigneeLoad.user_id, AssigneeLoad.open_count)).all())
    actual = actual_counts(session)
    return [
        Difference(user_id, stored.get(user_id, 0), actual.get(user_id, 0))
        for user_id in sorted(set(stored) | set(actual))
        if stored.get(user_id, 0) != actual.get(user_id, 0)
    ]


def rebuild(session: Session) -> list[Difference]:
    """Recomputes every counter from the complaints; returns what was wrong. On PostgreSQL the
    counters are locked first (EXCLUSIVE: readers go on, writers wait), so an intake that
    committed meanwhile cannot be counted twice or missed; SQLite's write lock does the same."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE assignee_loads IN EXCLUSIVE MODE"))
    wrong = check(session)
    session.execute(delete(AssigneeLoad))
    actual = actual_counts(session)
    if actual:
        session.execute(
            insert(AssigneeLoad),
            [{"user_id": u, "open_count": n} for u, n in sorted(actual.items())],
        )
    return wrong
