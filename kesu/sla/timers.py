"""Claiming due clocks and writing many clock rows back with one statement (the worker's pass).

A pass over a thousand due timers must not cost a statement, or a row version, per clock:

- ``claim`` only *reads* the due clocks, whole, in one statement. On PostgreSQL it takes
  them ``FOR UPDATE SKIP LOCKED``: the row locks, held until the pass commits, keep a second
  worker off them (it skips them; once the pass commits their ``next_fire_at`` has moved on,
  and PostgreSQL re-checks the condition on the new row version, so it does not take them
  either). On SQLite the worker's write transaction (``BEGIN IMMEDIATE``) already excludes
  every other writer. It returns them as *transient* ``SlaClock`` objects (never added to
  the session), so the ORM neither tracks nor flushes them one by one;
- ``write`` stores their new timer state with one ``UPDATE … FROM unnest(…)`` on PostgreSQL
  (an ``executemany`` on SQLite): one new row version per clock, instead of one for the claim
  and another for the re-arm. ``wake_at`` is the SLA sync's and never written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import Session

from kesu.sla.models import SlaClock

# The columns a pass changes (``sla.service.plan`` and the firing loop).
TIMER_COLUMNS = ("status", "due_at", "breached", "notified", "next_fire_at", "next_kind")
_PG_TYPES = {
    "id": "integer",
    "status": "varchar",
    "due_at": "timestamptz",
    "breached": "boolean",
    "notified": "integer",
    "next_fire_at": "timestamptz",
    "next_kind": "varchar",
    "updated_at": "timestamptz",
}


def _table() -> Table:
    return cast(Table, SlaClock.__table__)


def claim(session: Session, now: datetime, limit: int) -> list[SlaClock]:
    """Up to ``limit`` due clocks, most overdue first, locked for this transaction, as
    transient objects (by id): changes to them are written by ``write``. One statement."""
    table = _table()
    due = (
        select(table).where(table.c.next_fire_at <= now).order_by(table.c.next_fire_at).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = [SlaClock(**dict(row._mapping)) for row in session.execute(due)]
    return sorted(rows, key=lambda r: r.id)


def write(session: Session, rows: Sequence[SlaClock], now: datetime) -> None:
    """Stores the timer state (``TIMER_COLUMNS``) of ``rows`` in one statement."""
    if not rows:
        return
    columns = ("id", *TIMER_COLUMNS, "updated_at")
    values = [
        {"id": r.id, **{c: getattr(r, c) for c in TIMER_COLUMNS}, "updated_at": now} for r in rows
    ]
    if session.get_bind().dialect.name == "postgresql":
        arrays = ", ".join(f"CAST(:{c} AS {_PG_TYPES[c]}[])" for c in columns)
        sets = ", ".join(f"{c} = v.{c}" for c in columns if c != "id")
        statement = text(
            f"UPDATE sla_clocks AS c SET {sets} FROM unnest({arrays}) "
            f"AS v({', '.join(columns)}) WHERE c.id = v.id"
        )
        session.execute(statement, {c: [v[c] for v in values] for c in columns})
        return
    table = _table()
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({c: bindparam(f"b_{c}") for c in columns if c != "id"})
    )
    params: list[dict[str, Any]] = [{f"b_{k}": v for k, v in value.items()} for value in values]
    session.execute(stmt, params)
