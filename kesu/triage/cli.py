"""`kesu triage …` commands: evaluate the classifier on CSVs, try keywords and emotion."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from kesu.triage.emotion import assess
from kesu.triage.text import extract_keywords

app = typer.Typer(help="Chinese NLP for complaints: classifier evaluation, keywords, emotion.")


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
