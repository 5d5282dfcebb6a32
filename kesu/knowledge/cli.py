"""`kesu knowledge …`: rebuild the search index, load the shipped articles."""

from __future__ import annotations

import time

import typer

from kesu.clock import SystemClock
from kesu.config import get_settings
from kesu.db import Database

app = typer.Typer(help="Knowledge base: search index and shipped articles.")


@app.callback()
def main() -> None:
    """Knowledge base tools (kept as a group so each command is a subcommand)."""


@app.command("reindex")
def reindex_command() -> None:
    """Segments every article again and rebuilds the search index (one transaction)."""
    from kesu.knowledge.service import reindex

    settings = get_settings()
    db = Database(settings.database_url, settings.db_pool_size)
    started = time.perf_counter()
    with db.session() as session:
        done = reindex(session)
        session.commit()
    typer.echo(f"reindexed {done} articles in {time.perf_counter() - started:.1f}s")


@app.command("seed")
def seed_command() -> None:
    """Loads the shipped articles not loaded before (data/articles.toml)."""
    from kesu.knowledge.service import seed

    settings = get_settings()
    db = Database(settings.database_url, settings.db_pool_size)
    with db.session() as session:
        done = seed(session, SystemClock())
        session.commit()
    typer.echo("shipped articles loaded" if done else "nothing new to load")
