"""Evaluate the classifier pipeline on any labelled CSV: accuracy, macro-F1, per class, speed."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from kesu.triage.classifier import ClassifierConfig, TextClassifier


class DatasetError(ValueError):
    """A CSV that cannot be used: missing file or column, bad filter, no rows left."""


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: list[str]


def parse_where(conditions: Sequence[str]) -> list[tuple[str, str]]:
    """["label=0", "cat=酒店"] → [("label", "0"), ("cat", "酒店")]."""
    parsed = []
    for condition in conditions:
        column, sep, value = condition.partition("=")
        if not sep or not column.strip():
            raise DatasetError(f"--where needs COLUMN=VALUE, got {condition!r}")
        parsed.append((column.strip(), value))
    return parsed


def read_dataset(
    path: Path,
    text_column: str = "text",
    label_column: str = "label",
    where: Sequence[tuple[str, str]] = (),
) -> Dataset:
    """Rows of a UTF-8 CSV (a BOM is fine) that match every `where` (column, value)."""
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        wanted = [text_column, label_column, *(column for column, _ in where)]
        missing = [column for column in dict.fromkeys(wanted) if column not in columns]
        if missing:
            raise DatasetError(f"{path}: no column {', '.join(missing)} (columns: {columns})")
        rows = [row for row in reader if all(row[col] == value for col, value in where)]
    if not rows:
        raise DatasetError(f"{path}: no rows" + (" match --where" if where else ""))
    return Dataset([row[text_column] or "" for row in rows], [row[label_column] for row in rows])


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    train_seconds: float
    predict_per_second: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "train_seconds": self.train_seconds,
            "predict_per_second": self.predict_per_second,
        }


def evaluate(train: Dataset, test: Dataset, config: ClassifierConfig | None = None) -> Evaluation:
    """Train on `train`, score on `test`; labels seen only in `test` count as errors."""
    classifier = TextClassifier(config)
    started = time.perf_counter()
    classifier.fit(train.texts, train.labels)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = classifier.predict(test.texts)
    predict_seconds = max(time.perf_counter() - started, 1e-9)
    labels = sorted(set(train.labels) | set(test.labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        test.labels, predicted, labels=labels, zero_division=0
    )
    per_class = {
        label: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    # Macro-F1 over the labels that occur in the test set or the predictions (sklearn default).
    macro = f1_score(test.labels, predicted, average="macro", zero_division=0)
    return Evaluation(
        accuracy=round(float(accuracy_score(test.labels, predicted)), 4),
        macro_f1=round(float(macro), 4),
        per_class=per_class,
        n_train=len(train.texts),
        n_test=len(test.texts),
        train_seconds=round(train_seconds, 2),
        predict_per_second=round(len(test.texts) / predict_seconds, 1),
    )
