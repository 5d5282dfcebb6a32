"""`kesu analytics …`: rebuild the KPI rollups, catch up with the events, import volumes."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from kesu.clock import SystemClock
from kesu.config import get_settings
from kesu.db import Database

app = typer.Typer(help="Analytics: KPI rollups and business volumes.")


def _db() -> Database:
    settings = get_settings()
    return Database(settings.database_url, settings.db_pool_size)


@app.callback()
def main() -> None:
    """Analytics tools (kept as a group so each command is a subcommand)."""


@app.command("rebuild")
def rebuild_command() -> None:
    """Recomputes every complaint fact and rollup from the tables (same numbers as the
    incremental path); the worker continues from the newest event."""
    from kesu.analytics.rollups import rebuild

    started = time.perf_counter()
    made = rebuild(_db(), SystemClock())
    typer.echo(f"rebuilt the rollups of {made} complaints in {time.perf_counter() - started:.1f}s")


@app.command("catch-up")
def catch_up_command() -> None:
    """Reads the complaint events after the cursor into the rollups (what the worker does)."""
    from kesu.analytics.rollups import catch_up_all

    read = catch_up_all(_db(), SystemClock(), passes=1_000_000)
    typer.echo(f"{read} events settled")


@app.command("import-volumes")
def import_volumes_command(path: Path) -> None:
    """Imports business volumes from a CSV or Excel file (all rows or none)."""
    from kesu.analytics import volumes

    try:
        rows = volumes.read_upload(path.name, path.read_bytes())
    except volumes.VolumeErrors as error:
        for item in error.errors:
            typer.echo(f"row {item.row}: {item.field}: {item.message}", err=True)
        raise typer.Exit(code=1) from None
    with _db().session() as session:
        stored = volumes.store(session, SystemClock(), rows, "cli", "file")
    typer.echo(f"{stored} volume rows stored")
