"""Benchmark the triage classifier against the plain baseline on the shared review corpus.

    .venv/bin/python benchmarks/triage_eval.py [--data DIR]

Runs, for kesu's pipeline and for the baseline (char 1–3-gram TF-IDF + LinearSVC):
  1. routing by product line: train on the complaints (label 0) of os10_train.csv with `cat`
     as the label, test on the complaints of os10_dev.csv — macro-F1;
  2. complaint detection across domains: train on all of os10_train.csv, test on
     waimai_10k.csv (food delivery, never seen) — F1 of the complaint class "0";
  3. throughput on one core: training on 20,000 texts, prediction in texts per second.
The last line printed is all figures as JSON.
"""

from __future__ import annotations

import os

# One core: pin the numeric libraries before they are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from kesu.triage.classifier import ClassifierConfig, TextClassifier  # noqa: E402
from kesu.triage.evaluate import Dataset, evaluate, read_dataset  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/reviews"
CONFIGS = {"kesu": ClassifierConfig(), "baseline": ClassifierConfig.baseline()}


def routing(data: Path, config: ClassifierConfig) -> dict[str, Any]:
    where = [("label", "0")]
    train = read_dataset(data / "os10_train.csv", "review", "cat", where)
    test = read_dataset(data / "os10_dev.csv", "review", "cat", where)
    result = evaluate(train, test, config)
    return {
        "macro_f1": result.macro_f1,
        "accuracy": result.accuracy,
        "train_seconds": result.train_seconds,
        "predict_per_second": result.predict_per_second,
    }


def detection(data: Path, config: ClassifierConfig) -> dict[str, Any]:
    train = read_dataset(data / "os10_train.csv", "review", "label")
    test = read_dataset(data / "waimai_10k.csv", "review", "label")
    result = evaluate(train, test, config)
    complaint = result.per_class["0"]
    return {
        "complaint_f1": complaint["f1"],
        "complaint_precision": complaint["precision"],
        "complaint_recall": complaint["recall"],
        "accuracy": result.accuracy,
        "train_seconds": result.train_seconds,
        "predict_per_second": result.predict_per_second,
    }


def throughput(data: Path, config: ClassifierConfig) -> dict[str, Any]:
    """Train on a fixed random 20,000 of os10_train; predict all of waimai and os10_dev."""
    full = read_dataset(data / "os10_train.csv", "review", "label")
    picked = random.Random(0).sample(range(len(full.texts)), 20_000)
    train = Dataset([full.texts[i] for i in picked], [full.labels[i] for i in picked])
    started = time.perf_counter()
    model = TextClassifier(config).fit(train.texts, train.labels)
    figures: dict[str, Any] = {"train_20k_seconds": round(time.perf_counter() - started, 2)}
    for name in ("waimai_10k.csv", "os10_dev.csv"):
        texts = read_dataset(data / name, "review", "label").texts
        started = time.perf_counter()
        model.predict(texts)
        rate = len(texts) / (time.perf_counter() - started)
        figures[f"predict_per_second_{name.removesuffix('.csv')}"] = round(rate, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the reviews folder")
    args = parser.parse_args()
    report: dict[str, dict[str, Any]] = {}
    for name, config in CONFIGS.items():
        report[name] = {
            "routing": routing(args.data, config),
            "detection": detection(args.data, config),
            "throughput": throughput(args.data, config),
        }
        for task, figures in report[name].items():
            print(f"{name:9} {task:10} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
