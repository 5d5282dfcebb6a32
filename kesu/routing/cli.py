"""`kesu routing …`: the assignee counters behind least-loaded assignment."""

from __future__ import annotations

import time

import typer

from kesu.config import get_settings
from kesu.db import Database

app = typer.Typer(help="Routing: the open-complaint counters of least-loaded assignment.")


@app.callback()
def main() -> None:
    """Routing tools (kept as a group so each command is a subcommand)."""


@app.command("loads")
def loads_command(
    rebuild: bool = typer.Option(False, "--rebuild", help="recompute every counter"),
) -> None:
    """Compares each person's counter of open assigned complaints with the count query
    (exit 1 when one differs); --rebuild recomputes them all in one transaction."""
    from kesu.routing import loads

    settings = get_settings()
    db = Database(settings.database_url, settings.db_pool_size, settings.write_lock_timeout_seconds)
    started = time.perf_counter()
    with db.session(write=rebuild) as session:
        wrong = loads.rebuild(session) if rebuild else loads.check(session)
    for d in wrong:
        typer.echo(f"user {d.user_id}: counter {d.counter}, open assigned complaints {d.actual}")
    verb = "rebuilt" if rebuild else "checked"
    typer.echo(f"{verb} in {time.perf_counter() - started:.1f}s; {len(wrong)} counter(s) differed")
    if wrong and not rebuild:
        raise typer.Exit(code=1)
