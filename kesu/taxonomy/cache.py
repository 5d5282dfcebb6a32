"""A short-lived per-process cache of configuration rows (stages, form fields).

Configuration is read on every intake but changes rarely. Each process keeps it for a few
seconds; edits in this process clear it at once, other processes see them within the TTL.
The rows are detached ORM objects: read their attributes, never add them to a session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

TTL_SECONDS = 5.0
T = TypeVar("T")

_lock = threading.Lock()
_entries: dict[tuple[str, str], tuple[float, Any]] = {}


def cached(session: Session, name: str, load: Callable[[], T]) -> T:
    key = (str(session.get_bind().engine.url), name)
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key)
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    value = load()
    for row in value if isinstance(value, list) else []:
        session.expunge(row)
    with _lock:
        _entries[key] = (now, value)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
