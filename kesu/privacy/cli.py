"""`kesu privacy …`: anonymise customers past the retention period (PIPL)."""

from __future__ import annotations

from typing import Annotated

import typer

from kesu.clock import SystemClock
from kesu.config import get_settings
from kesu.db import Database
from kesu.privacy.erasure import anonymize_expired

app = typer.Typer(help="Personal data: retention and anonymisation (PIPL).")


@app.callback()
def main() -> None:
    """Privacy tools (kept as a group so each command is a subcommand)."""


@app.command("anonymize-expired")
def anonymize_expired_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, change nothing.")] = False,
    years: Annotated[
        int | None,
        typer.Option(min=1, max=100, help="Retention in years (default KESU_RETENTION_YEARS)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
) -> None:
    """Anonymises the customers whose complaints have all been closed for more than N years."""
    settings = get_settings()
    retention = years if years is not None else settings.retention_years
    if retention <= 0:
        typer.echo("retention is off (KESU_RETENTION_YEARS=0); pass --years N to run once")
        raise typer.Exit(code=2)
    db = Database(settings.database_url, settings.db_pool_size)
    with db.session() as session:
        ids = anonymize_expired(session, SystemClock(), retention, limit, dry_run)
        if not dry_run:
            session.commit()
    verb = "would anonymise" if dry_run else "anonymised"
    typer.echo(f"{verb} {len(ids)} customers" + (f": {', '.join(map(str, ids))}" if ids else ""))
