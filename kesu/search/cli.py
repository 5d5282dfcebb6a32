"""`kesu search …`: the complaints' full-text index."""

from __future__ import annotations

import time

import typer

from kesu.config import get_settings
from kesu.db import Database

app = typer.Typer(help="Complaint search: the full-text index.")


@app.callback()
def main() -> None:
    """Complaint search tools (kept as a group so each command is a subcommand)."""


@app.command("rebuild")
def rebuild_command(
    batch: int = typer.Option(2000, min=100, max=50_000, help="complaints per transaction"),
) -> None:
    """Drops the full-text index of complaints and indexes every complaint again, one
    transaction per batch (writers keep going; until it ends q finds only what is indexed)."""
    from kesu.search.index import rebuild

    settings = get_settings()
    db = Database(settings.database_url, settings.db_pool_size)
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % 100_000 < batch:
            typer.echo(f"  {done} complaints ({time.perf_counter() - started:.0f}s)")

    done = rebuild(db, batch=batch, progress=progress)
    typer.echo(f"indexed {done} complaints in {time.perf_counter() - started:.1f}s")
    db.dispose()
