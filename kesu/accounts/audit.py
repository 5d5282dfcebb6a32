"""The audit log: one row for every change, written in the same transaction as the change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from kesu.accounts.models import AuditLog
from kesu.clock import Clock

if TYPE_CHECKING:
    from kesu.accounts.service import Actor


def record_audit(
    session: Session,
    clock: Clock,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    changes: dict[str, Any],
) -> None:
    # A plain INSERT, not an ORM object: the row is append-only and nothing reads it back in
    # the transaction, so the unit of work's bookkeeping per object is saved (issue 13).
    # It goes out at once, inside whatever transaction or savepoint is open, without flushing
    # the caller's pending objects first (they may not be complete yet; the row refers to no
    # entity by foreign key, only to the acting user, who exists).
    with session.no_autoflush:
        session.execute(
            insert(_TABLE),
            {
                "at": clock.now(),
                "actor_id": actor.user_id,
                "actor_label": actor.label,
                "action": action,
                "entity": entity,
                "entity_id": str(entity_id),
                "changes": _jsonable(changes),
            },
        )


_TABLE = cast(Table, AuditLog.__table__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
