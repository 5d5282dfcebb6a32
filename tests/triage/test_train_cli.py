"""`kesu triage train | models | analyze` against a real database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kesu.config import get_settings
from kesu.triage import service
from kesu.triage.cli import app
from tests.triage.conftest import sample

runner = CliRunner()


@pytest.fixture
def cli_db(db, monkeypatch):
    monkeypatch.setenv("KESU_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_a_complaint_detector_trained_from_a_labelled_file(
    cli_db, os10_rows, waimai_rows, tmp_path
):
    path = tmp_path / "posts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["cat", "label", "review"])
        writer.writeheader()
        writer.writerows(sample(os10_rows, ("cat", "label"), 40))
    args = ["train", "--kind", "detection", "--from-file", str(path)]
    args += ["--text-column", "review", "--label-column", "label", "--complaint-label", "0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    outcome = last_json(result.output)
    assert outcome["kind"] == "detection" and outcome["activated"] and outcome["version"] == 1
    assert outcome["macro_f1"] > 0.6

    # Posts from a domain it never saw (food delivery): most complaints are recognised.
    posts = sample(waimai_rows, "label", 50)
    with cli_db.session(write=False) as session:
        found = [(service.detect(session, row["review"]), row["label"]) for row in posts]
    assert {detection.source for detection, _ in found} == {"model"}
    correct = sum(detection.is_complaint == (label == "0") for detection, label in found)
    assert correct / len(found) > 0.7

    listed = runner.invoke(app, ["models"])
    assert listed.exit_code == 0
    assert json.loads(listed.output.splitlines()[0])["status"] == "active"


def test_without_a_detector_the_lexicons_decide(cli_db):
    with cli_db.session(write=False) as session:
        angry = service.detect(session, "骗子商家！我要去12315投诉你们")
        calm = service.detect(session, "东西收到了，包装很好")
    assert angry.source == "lexicon" and angry.is_complaint
    assert not calm.is_complaint


def test_training_needs_data_and_says_so(cli_db):
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    assert "两个分类" in result.output
    result = runner.invoke(app, ["train", "--kind", "detection"])
    assert result.exit_code == 2 and "--from-file" in result.output
    result = runner.invoke(app, ["train", "--from-file", str(Path("/nonexistent.csv"))])
    assert result.exit_code == 2 and "文件不存在" in result.output


def test_analyze_uses_the_database_rules(cli_db):
    result = runner.invoke(app, ["analyze", "快递丢了，还被重复扣费"])
    assert result.exit_code == 0, result.output
    analysis = last_json(result.output)
    paths = [s["path"] for s in analysis["suggestions"]]
    assert "账务/扣费异常/重复扣费" in paths and "物流服务/丢件错件/包裹丢失" in paths
    assert analysis["tokens"] and analysis["keywords"]


def test_reindex_and_backfill_on_an_empty_database(cli_db):
    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0 and "indexed 0 resolved complaints" in result.output
    result = runner.invoke(app, ["backfill"])
    assert result.exit_code == 0 and "triaged 0 complaints" in result.output
