"""`kesu triage …` commands: evaluate the classifier on CSVs, try keywords and emotion."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from kesu.clock import SystemClock
from kesu.config import get_settings
from kesu.db import Database
from kesu.errors import InvalidInput
from kesu.migrate import is_empty
from kesu.triage.emotion import assess
from kesu.triage.history import category_examples_from_file, detection_examples_from_file
from kesu.triage.registry import ModelKind, list_models
from kesu.triage.service import analyze, backfill
from kesu.triage.text import extract_keywords
from kesu.triage.training import DEFAULT_LIMIT, train_categories_from_database, train_model

app = typer.Typer(
    help="Chinese NLP for complaints: train and list models, evaluate, analyze a text."
)


@app.callback()
def main() -> None:
    """Triage tools (kept as a group so `evaluate` is always a subcommand)."""


@app.command("evaluate")
def evaluate_command(
    train: Annotated[Path, typer.Option(help="Training CSV (UTF-8).")],
    test: Annotated[Path, typer.Option(help="Test CSV (UTF-8).")],
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column holding the label.")] = "label",
    where: Annotated[
        list[str] | None,
        typer.Option(help="Keep only rows with COLUMN=VALUE (repeatable), in both files."),
    ] = None,
    baseline: Annotated[
        bool, typer.Option(help="Use the plain char n-gram TF-IDF + LinearSVC baseline.")
    ] = False,
) -> None:
    """Train on TRAIN, test on TEST; the last line printed is the result as JSON."""
    # scikit-learn is imported here, not at module level: `kesu --help` should stay quick.
    from kesu.triage.classifier import ClassifierConfig
    from kesu.triage.evaluate import DatasetError, evaluate, parse_where, read_dataset

    try:
        conditions = parse_where(where or [])
        train_set = read_dataset(train, text_column, label_column, conditions)
        test_set = read_dataset(test, text_column, label_column, conditions)
        config = ClassifierConfig.baseline() if baseline else ClassifierConfig()
        result = evaluate(train_set, test_set, config)
    except (DatasetError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    name = "baseline" if baseline else "kesu"
    typer.echo(
        f"{name}: accuracy {result.accuracy:.4f}, macro-F1 {result.macro_f1:.4f}, "
        f"trained on {result.n_train} in {result.train_seconds:.1f} s, "
        f"{result.predict_per_second:.0f} texts/s"
    )
    typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))


@app.command("keywords")
def keywords_command(
    text: str, top_k: Annotated[int, typer.Option(help="How many keywords.")] = 10
) -> None:
    """Print the keywords of TEXT with their weights, as JSON."""
    keywords = extract_keywords(text, top_k)
    typer.echo(json.dumps([[k.word, k.weight] for k in keywords], ensure_ascii=False))


@app.command("assess")
def assess_command(text: str) -> None:
    """Print anger, urgency, risk level and risk signals of TEXT, as JSON."""
    typer.echo(json.dumps(dataclasses.asdict(assess(text)), ensure_ascii=False))


def _database() -> Database:
    settings = get_settings()
    db = Database(settings.database_url, settings.db_pool_size, settings.write_lock_timeout_seconds)
    if is_empty(db):
        typer.echo("error: the database has no tables yet; run `kesu db upgrade`", err=True)
        raise typer.Exit(code=2)
    return db


@app.command("train")
def train_command(
    kind: Annotated[
        ModelKind, typer.Option(help="category: the taxonomy; detection: is it a complaint?")
    ] = ModelKind.category,
    from_file: Annotated[
        Path | None,
        typer.Option(help="A CSV or .xlsx of past complaints instead of the database."),
    ] = None,
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_column: Annotated[
        str, typer.Option(help="Column holding the category path (or the complaint label).")
    ] = "label",
    complaint_label: Annotated[
        str, typer.Option(help="detection: the label value that means 'a complaint'.")
    ] = "0",
    limit: Annotated[
        int, typer.Option(help="At most this many newest classified complaints.")
    ] = DEFAULT_LIMIT,
) -> None:
    """Train a new model version; it becomes active only if it beats the active one on
    held-out data. The last line printed is the outcome as JSON."""
    db = _database()
    clock = SystemClock()
    try:
        if kind == ModelKind.detection:
            if from_file is None:
                raise InvalidInput(
                    "detection needs a labelled file: --from-file", field="from_file"
                )
            examples = detection_examples_from_file(
                from_file, text_column, label_column, complaint_label
            )
            outcome = train_model(
                db, clock, kind, examples, source=from_file.name, trained_by="cli"
            )
        elif from_file is not None:
            with db.session(write=False) as session:
                examples = category_examples_from_file(
                    session, from_file, text_column, label_column
                )
            outcome = train_model(
                db, clock, kind, examples, source=from_file.name, trained_by="cli"
            )
        else:
            outcome = train_categories_from_database(db, clock, trained_by="cli", limit=limit)
    except (InvalidInput, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    verdict = "active" if outcome.activated else "rejected (the active version scores better)"
    typer.echo(
        f"{kind} model v{outcome.model.version}: macro-F1 {outcome.macro_f1:.4f} on "
        f"{outcome.n_test} held-out, trained on {outcome.n_train} "
        f"({outcome.n_corrections} corrected) — {verdict}"
    )
    typer.echo(json.dumps(outcome.as_dict(), ensure_ascii=False))


@app.command("backfill")
def backfill_command(
    limit: Annotated[int | None, typer.Option(help="At most this many complaints.")] = None,
) -> None:
    """Store the triage (keywords, emotion, risk, suggestions) of complaints that have none:
    imported ones, or those from before triage. Changes nothing on the complaints."""
    db = _database()
    done = backfill(db, SystemClock(), limit=limit)
    typer.echo(f"triaged {done} complaints")


@app.command("reindex")
def reindex_command() -> None:
    """Rebuild the similar-case index of resolved and closed complaints (after an import)."""
    from kesu.triage.similar import rebuild

    typer.echo(f"indexed {rebuild(_database())} resolved complaints")


@app.command("models")
def models_command() -> None:
    """List the model versions with their held-out scores, as JSON lines."""
    db = _database()
    with db.session(write=False) as session:
        for row in list_models(session):
            typer.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "kind": row.kind,
                        "version": row.version,
                        "status": row.status,
                        "macro_f1": row.metrics.get("macro_f1"),
                        "n_train": row.n_train,
                        "n_test": row.n_test,
                        "n_corrections": row.n_corrections,
                        "source": row.source,
                        "created_at": row.created_at.isoformat(),
                    },
                    ensure_ascii=False,
                )
            )


@app.command("analyze")
def analyze_command(text: str) -> None:
    """What kesu makes of TEXT with this database's rules, lexicons and models, as JSON."""
    db = _database()
    with db.session(write=False) as session:
        typer.echo(
            json.dumps(analyze(session, text, with_tokens=True).as_dict(), ensure_ascii=False)
        )
