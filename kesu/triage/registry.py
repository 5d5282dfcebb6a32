"""Trained model versions in the database, and the active one of each kind in memory.

Each process checks which version is active at most every few seconds and loads a new
payload only when the active version changed, so a model trained by the worker (or by
``kesu triage train`` on another machine) reaches every web process within the TTL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.triage.models import TriageModel

TTL_SECONDS = 5.0


class ModelKind(StrEnum):
    category = "category"  # the 3-level taxonomy (labels are category paths)
    detection = "detection"  # is this text a complaint? (labels complaint / other)


class ModelStatus(StrEnum):
    active = "active"
    retired = "retired"  # replaced by a better version
    rejected = "rejected"  # did not beat the version that was active


if TYPE_CHECKING:  # scikit-learn is imported only when a model is loaded or trained
    from kesu.triage.classifier import TextClassifier


@dataclass(frozen=True)
class LoadedModel:
    id: int
    version: int
    classifier: TextClassifier


_lock = threading.Lock()
# (database url, kind) → (checked at, the loaded model or None)
_cache: dict[tuple[str, str], tuple[float, LoadedModel | None]] = {}


def active_row(session: Session, kind: ModelKind) -> TriageModel | None:
    return session.scalar(
        select(TriageModel).where(
            TriageModel.kind == kind, TriageModel.status == ModelStatus.active
        )
    )


def active_model(session: Session, kind: ModelKind) -> LoadedModel | None:
    """The active classifier of ``kind``, or None when none was trained yet."""
    key = (str(session.get_bind().engine.url), str(kind))
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    active_id = session.scalar(
        select(TriageModel.id).where(
            TriageModel.kind == kind, TriageModel.status == ModelStatus.active
        )
    )
    loaded = hit[1] if hit is not None else None
    if active_id is None:
        loaded = None
    elif loaded is None or loaded.id != active_id:
        loaded = _load(session, active_id)
    with _lock:
        _cache[key] = (now, loaded)
    return loaded


def _load(session: Session, model_id: int) -> LoadedModel:
    from kesu.triage.classifier import TextClassifier

    version, payload = session.execute(
        select(TriageModel.version, TriageModel.payload).where(TriageModel.id == model_id)
    ).one()
    return LoadedModel(model_id, version, TextClassifier.from_bytes(payload))


def remember(kind: ModelKind, session: Session, model: LoadedModel) -> None:
    """Puts a model this process just trained and activated in the cache (no reload)."""
    key = (str(session.get_bind().engine.url), str(kind))
    with _lock:
        _cache[key] = (time.monotonic(), model)


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def next_version(session: Session, kind: ModelKind) -> int:
    latest = session.scalar(select(func.max(TriageModel.version)).where(TriageModel.kind == kind))
    return (latest or 0) + 1


def list_models(session: Session, kind: ModelKind | None = None) -> list[TriageModel]:
    query = select(TriageModel).order_by(TriageModel.kind, TriageModel.version.desc())
    if kind is not None:
        query = query.where(TriageModel.kind == kind)
    return list(session.scalars(query))
