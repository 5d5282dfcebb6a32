"""Training model versions: from the classified complaints in the database (agents'
corrections weigh more) or from an imported CSV/Excel file of past complaints.

A candidate is trained on 80 % of the examples and scored on the held-out 20 %; the active
version is scored on the same held-out examples, and the candidate replaces it only when its
macro-F1 is higher. Either way the candidate is kept (``rejected`` when it lost) with its
scores, so admins see every attempt.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.complaints.models import Complaint
from kesu.db import Database
from kesu.errors import InvalidInput
from kesu.taxonomy.models import Category
from kesu.triage import registry
from kesu.triage.models import Correction, TriageModel
from kesu.triage.registry import LoadedModel, ModelKind, ModelStatus
from kesu.web.i18n import gettext as _

if TYPE_CHECKING:
    from kesu.triage.classifier import TextClassifier

HELD_OUT_SHARE = 0.2
CORRECTION_WEIGHT = 3.0  # a corrected complaint weighs this much more in training
DEFAULT_LIMIT = 50_000  # newest classified complaints used for training
COMPLAINT_LABEL = "complaint"
OTHER_LABEL = "other"


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    corrected: bool = False


@dataclass
class TrainOutcome:
    model: TriageModel
    activated: bool
    macro_f1: float
    previous_macro_f1: float | None
    n_train: int
    n_test: int
    n_corrections: int
    skipped_labels: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model.id,
            "kind": self.model.kind,
            "version": self.model.version,
            "status": self.model.status,
            "activated": self.activated,
            "macro_f1": self.macro_f1,
            "previous_macro_f1": self.previous_macro_f1,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_corrections": self.n_corrections,
            "skipped_labels": self.skipped_labels,
        }


# --- where examples come from ----------------------------------------------------------------


def complaint_text(title: str, content: str) -> str:
    """The text triage reads for a complaint (the title is often the gist)."""
    return f"{title}\n{content}" if title and not content.startswith(title.rstrip("…")) else content


def examples_from_database(session: Session, limit: int = DEFAULT_LIMIT) -> list[Example]:
    """The newest classified complaints plus every corrected one (merged duplicates left
    out), labelled by category path; complaints whose category an agent corrected are marked."""
    corrected_ids = set(session.scalars(select(Correction.complaint_id).distinct()))
    query = (
        select(Complaint.id, Complaint.title, Complaint.content, Category.path)
        .join(Category, Category.id == Complaint.category_id)
        .where(Complaint.merged_into_id.is_(None), Category.is_active)
    )
    rows = {
        row[0]: row for row in session.execute(query.order_by(Complaint.id.desc()).limit(limit))
    }
    missing = corrected_ids - rows.keys()
    for chunk in _chunks(sorted(missing), 500):
        rows.update((row[0], row) for row in session.execute(query.where(Complaint.id.in_(chunk))))
    return [
        Example(complaint_text(title, content), path, complaint_id in corrected_ids)
        for complaint_id, title, content, path in rows.values()
    ]


def _chunks(values: list[int], size: int) -> list[list[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


# --- training --------------------------------------------------------------------------------


def split(
    examples: Sequence[Example], seed: int = 20261122
) -> tuple[list[Example], list[Example], list[str]]:
    """Per label: 20 % held out (at least one when a label has four or more examples), the
    rest for training. Labels with a single example are skipped and returned."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.label].append(example)
    rng = random.Random(seed)
    train: list[Example] = []
    test: list[Example] = []
    skipped = []
    for label in sorted(by_label):
        group = by_label[label]
        if len(group) < 2:
            skipped.append(label)
            continue
        rng.shuffle(group)
        n_test = max(1, round(len(group) * HELD_OUT_SHARE)) if len(group) >= 4 else 0
        test += group[:n_test]
        train += group[n_test:]
    return train, test, skipped


def macro_f1(classifier: TextClassifier, test: Sequence[Example]) -> tuple[float, dict[str, Any]]:
    from sklearn.metrics import accuracy_score, f1_score

    truth = [e.label for e in test]
    predicted = classifier.predict([e.text for e in test])
    score = float(f1_score(truth, predicted, average="macro", zero_division=0))
    return round(score, 4), {"accuracy": round(float(accuracy_score(truth, predicted)), 4)}


@dataclass
class Candidate:
    """A freshly trained classifier and the held-out examples it is to be judged on."""

    classifier: TextClassifier
    train: list[Example]
    test: list[Example]
    skipped: list[str]
    train_seconds: float


def fit_candidate(examples: Sequence[Example]) -> Candidate:
    """Splits and trains (no database: the slow part runs outside any transaction)."""
    from kesu.triage.classifier import ClassifierConfig, TextClassifier

    train, test, skipped = split(examples)
    labels = {e.label for e in train}
    if len(labels) < 2:
        raise InvalidInput(
            _("训练至少需要两个分类、每类至少两条（现有 %(n)d 条）") % {"n": len(examples)},
            field="examples",
        )
    texts = [example.text for example in train]
    targets = [example.label for example in train]
    weights = [CORRECTION_WEIGHT if example.corrected else 1.0 for example in train]
    started = time.perf_counter()
    try:
        classifier = TextClassifier(ClassifierConfig()).fit(texts, targets, sample_weight=weights)
    except ValueError:  # scikit-learn: e.g. "empty vocabulary" (texts of symbols only)
        raise InvalidInput(
            _("训练数据中没有可学习的文字"),
            field="examples",
        ) from None
    return Candidate(classifier, train, test, skipped, round(time.perf_counter() - started, 2))


def store_candidate(
    session: Session,
    clock: Clock,
    kind: ModelKind,
    candidate: Candidate,
    *,
    source: str,
    trained_by: str,
    correction_ids: Sequence[int] = (),
) -> TrainOutcome:
    """Scores the candidate and the active version on the same held-out examples, stores the
    candidate (active when it is better, else rejected) and marks the corrections it used.
    The caller commits."""
    test = candidate.test
    current = registry.active_model(session, kind)
    score, extra = macro_f1(candidate.classifier, test) if test else (0.0, {"accuracy": 0.0})
    previous = macro_f1(current.classifier, test)[0] if current is not None and test else None
    activated = current is None or (previous is not None and score > previous)
    now = clock.now()
    row = TriageModel(
        kind=kind,
        version=registry.next_version(session, kind),
        status=ModelStatus.active if activated else ModelStatus.rejected,
        source=source[:255],
        trained_by=trained_by[:128],
        n_train=len(candidate.train),
        n_test=len(test),
        n_corrections=sum(1 for e in candidate.train if e.corrected),
        labels=sorted({e.label for e in candidate.train}),
        metrics={
            "macro_f1": score,
            **extra,
            "train_seconds": candidate.train_seconds,
            "previous": None
            if current is None
            else {"id": current.id, "version": current.version, "macro_f1": previous},
        },
        payload=candidate.classifier.to_bytes(),
        created_at=now,
        activated_at=now if activated else None,
    )
    if activated and current is not None:
        session.execute(
            update(TriageModel)
            .where(TriageModel.id == current.id)
            .values(status=ModelStatus.retired)
        )
        session.flush()
    session.add(row)
    session.flush()
    if correction_ids:
        session.execute(
            update(Correction)
            .where(Correction.id.in_(correction_ids), Correction.used_by_model_id.is_(None))
            .values(used_by_model_id=row.id)
        )
    if activated:
        registry.remember(kind, session, LoadedModel(row.id, row.version, candidate.classifier))
    return TrainOutcome(
        model=row,
        activated=activated,
        macro_f1=score,
        previous_macro_f1=previous,
        n_train=len(candidate.train),
        n_test=len(test),
        n_corrections=row.n_corrections,
        skipped_labels=candidate.skipped,
    )


def train_model(
    db: Database,
    clock: Clock,
    kind: ModelKind,
    examples: Sequence[Example],
    *,
    source: str,
    trained_by: str,
    correction_ids: Sequence[int] = (),
) -> TrainOutcome:
    """Trains a candidate (outside any transaction) and stores it in a short one."""
    candidate = fit_candidate(examples)
    with db.session() as session:
        outcome = store_candidate(
            session,
            clock,
            kind,
            candidate,
            source=source,
            trained_by=trained_by,
            correction_ids=correction_ids,
        )
        session.flush()
        session.expunge(outcome.model)
    return outcome


def pending_corrections(session: Session) -> list[int]:
    """Corrections no training has used yet."""
    return list(session.scalars(select(Correction.id).where(Correction.used_by_model_id.is_(None))))


def count_pending_corrections(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Correction)
            .where(Correction.used_by_model_id.is_(None))
        )
        or 0
    )


def train_categories_from_database(
    db: Database, clock: Clock, *, trained_by: str, limit: int = DEFAULT_LIMIT
) -> TrainOutcome:
    """A new category model from the classified complaints and agents' corrections."""
    with db.session(write=False) as session:
        corrections = pending_corrections(session)
        examples = examples_from_database(session, limit)
    return train_model(
        db,
        clock,
        ModelKind.category,
        examples,
        source="database",
        trained_by=trained_by,
        correction_ids=corrections,
    )


def retrain_if_due(db: Database, clock: Clock, threshold: int) -> TrainOutcome | None:
    """The worker's background retraining: once ``threshold`` corrections no training has
    used have accumulated (0 turns it off). Two workers may both train; the second to store
    finds the corrections used and keeps its model only if it is better, like any candidate."""
    if threshold <= 0:
        return None
    with db.session(write=False) as session:
        if count_pending_corrections(session) < threshold:
            return None
    return train_categories_from_database(db, clock, trained_by="worker")
