from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kesu.triage.cli import app
from tests.triage.conftest import sample

runner = CliRunner()


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["cat", "label", "review"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def csv_files(os10_rows, tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    rows = [r for r in os10_rows if r["cat"] in ("酒店", "水果", "书籍")]
    train = _write(folder / "train.csv", sample(rows, ("cat", "label"), 80))
    test = _write(folder / "test.csv", sample(rows, ("cat", "label"), 30, skip=80))
    return train, test


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.parametrize("baseline", [False, True])
def test_evaluate_prints_json_on_its_last_line(csv_files, baseline):
    train, test = csv_files
    args = ["evaluate", "--train", str(train), "--test", str(test)]
    args += ["--text-column", "review", "--label-column", "cat", "--where", "label=0"]
    result = runner.invoke(app, args + (["--baseline"] if baseline else []))
    assert result.exit_code == 0, result.output
    report = _last_json(result.output)
    assert set(report) == {
        "accuracy",
        "macro_f1",
        "per_class",
        "n_train",
        "n_test",
        "train_seconds",
        "predict_per_second",
    }
    assert report["n_train"] == 240 and report["n_test"] == 90
    assert set(report["per_class"]) == {"酒店", "水果", "书籍"}
    assert set(report["per_class"]["酒店"]) == {"precision", "recall", "f1", "support"}
    assert report["per_class"]["酒店"]["support"] == 30
    assert report["macro_f1"] > 0.7
    assert report["predict_per_second"] > 0


def test_evaluate_binary_labels_are_strings(csv_files):
    train, test = csv_files
    args = ["evaluate", "--train", str(train), "--test", str(test), "--text-column", "review"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert set(_last_json(result.output)["per_class"]) == {"0", "1"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--text-column", "nope"], "no column nope"),
        (["--text-column", "review", "--where", "label"], "COLUMN=VALUE"),
        (["--text-column", "review", "--where", "colour=red"], "no column colour"),
        (["--text-column", "review", "--where", "label=7"], "no rows match"),
    ],
)
def test_evaluate_rejects_bad_input_without_a_traceback(csv_files, extra, message):
    train, test = csv_files
    result = runner.invoke(app, ["evaluate", "--train", str(train), "--test", str(test), *extra])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_evaluate_missing_file(tmp_path: Path):
    missing = tmp_path / "none.csv"
    result = runner.invoke(app, ["evaluate", "--train", str(missing), "--test", str(missing)])
    assert result.exit_code == 2
    assert "file not found" in result.output


def test_keywords_and_assess_commands():
    keywords = runner.invoke(app, ["keywords", "热水器漏水，漏水严重，师傅不来修", "--top-k", "2"])
    assert keywords.exit_code == 0
    assert "漏水" in [word for word, _ in json.loads(keywords.output)]
    assessed = runner.invoke(app, ["assess", "再不退款我就打12315！"])
    assert json.loads(assessed.output)["risk_level"] == 3
