"""The ``kesu`` command: serve, worker, db upgrade, users, tokens, demo data."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from kesu.analytics.cli import app as analytics_app
from kesu.clock import SystemClock
from kesu.config import get_settings
from kesu.db import Database
from kesu.knowledge.cli import app as knowledge_app
from kesu.privacy.cli import app as privacy_app
from kesu.routing.cli import app as routing_app
from kesu.search.cli import app as search_app
from kesu.triage.cli import app as triage_app

app = typer.Typer(help="kesu 客诉 — customer complaint management", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations)", no_args_is_help=True)
user_app = typer.Typer(help="Staff users", no_args_is_help=True)
token_app = typer.Typer(help="API tokens", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(triage_app, name="triage", help="Chinese NLP: models, evaluation, keywords, risk")
app.add_typer(privacy_app, name="privacy", help="Personal data: retention, anonymisation (PIPL)")
app.add_typer(knowledge_app, name="knowledge", help="Knowledge base: index, shipped articles")
app.add_typer(analytics_app, name="analytics", help="Analytics: KPI rollups, business volumes")
app.add_typer(routing_app, name="routing", help="Routing: least-loaded counters (check, rebuild)")
app.add_typer(search_app, name="search", help="Complaint search: rebuild the full-text index")
console = Console()
# `kesu demo` starts SLA clocks for the open complaints it made, up to this many (one
# complaint at a time; a million would take a while: use the worker benchmark's bulk setup).
BACKFILL_LIMIT = 50_000
# …and stores the triage of each complaint (about 4 ms each) up to this many.
TRIAGE_BACKFILL_LIMIT = 5_000


def _database() -> Database:
    settings = get_settings()
    return Database(
        settings.database_url, settings.db_pool_size, settings.write_lock_timeout_seconds
    )


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations and seed default configuration into empty tables."""
    from kesu.migrate import upgrade

    seeded = upgrade(_database(), SystemClock(), revision)
    console.print(f"database at {revision}" + (f"; seeded {', '.join(seeded)}" if seeded else ""))


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
    log_level: str = "info",
    access_log: bool = True,
    with_worker: Annotated[
        bool, typer.Option(help="also run the worker (timers, notifications) in this process")
    ] = False,
) -> None:
    """Serve the web UI and the API (migrates an empty database first)."""
    import uvicorn

    from kesu.config import ConfigError
    from kesu.migrate import is_empty, upgrade

    try:
        get_settings().session_secret()  # production without KESU_SECRET_KEY stops here
    except ConfigError as exc:
        _fail(str(exc))

    database = _database()
    if is_empty(database):
        console.print("empty database: applying migrations and default configuration")
        upgrade(database, SystemClock())
    database.analyze()
    if with_worker:
        from kesu.worker import start_in_thread

        _log_to_console(log_level)
        start_in_thread(database, get_settings())
        console.print("worker running in this process (SLA timers, notifications)")
    else:
        database.dispose()
    _print_public_url(host, port)
    uvicorn.run(
        "kesu.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        proxy_headers=False,
        # a worker's start (imports, app, warm-up) takes > 5 s on a loaded machine, and
        # uvicorn kills a worker not ready within this many seconds (and again, for ever)
        timeout_worker_healthcheck=60,
    )


def _print_public_url(host: str, port: int) -> None:
    """Where kesu listens, and the address customers' links use (kesu.web.public_url)."""
    from kesu.web.public_url import configured

    settings = get_settings()
    base = configured(settings)
    console.print(f"kesu on http://{host}:{port}  (API docs: /api/docs)")
    if base:
        console.print(f"links to customers use KESU_BASE_URL: {base}")
        return
    console.print(
        "links to customers use the address each request came in on"
        f" (e.g. http://{host}:{port}); the worker uses the last one seen"
    )
    if settings.environment == "production":
        console.print(
            "[yellow]warning:[/yellow] KESU_BASE_URL is not set: in production set it to the"
            " public address (https://…) so every tracking link points there"
        )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="run passes until idle, then exit")] = False,
    interval: Annotated[float | None, typer.Option(help="seconds between passes")] = None,
    log_level: str = "info",
) -> None:
    """Fire SLA timers and escalations, deliver notifications (run beside `kesu serve`)."""
    import threading

    from kesu.worker import Worker

    _log_to_console(log_level)
    settings = get_settings()
    runner = Worker(_database(), settings)
    if once:
        for stats in runner.run_until_idle():
            console.print(
                f"fired {stats.fired}, re-synced {stats.reconciled}, "
                f"delivered {stats.delivery.delivered}, retry {stats.delivery.retried}, "
                f"failed {stats.delivery.failed}"
            )
        return
    stop = threading.Event()
    try:
        runner.run_forever(stop, interval)
    except KeyboardInterrupt:
        stop.set()


def _log_to_console(level: str) -> None:
    import logging

    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option()],
    role: Annotated[
        str,
        typer.Option(help="admin, executive, manager, team_lead, agent, finance_approver, auditor"),
    ],
    password: Annotated[str | None, typer.Option(help="or set KESU_NEW_PASSWORD")] = None,
    team: Annotated[str | None, typer.Option(help="team code")] = None,
    display_name: str = "",
    email: str | None = None,
) -> None:
    """Create a staff user."""
    from kesu.accounts import service
    from kesu.errors import KesuError

    secret = password or os.environ.get("KESU_NEW_PASSWORD")
    if not secret:
        _fail("give --password or KESU_NEW_PASSWORD")
        return
    try:
        with _database().session() as session:
            user = service.create_user(
                session,
                SystemClock(),
                service.SYSTEM,
                username=username,
                password=secret,
                role=role,
                team_code=team,
                display_name=display_name,
                email=email,
            )
            console.print(f"created user {user.username} ({user.role})")
    except KesuError as exc:
        _fail(exc.message)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="username")],
    name: str = "cli",
    days: Annotated[int | None, typer.Option(min=1, help="lifetime (default 90 days)")] = None,
) -> None:
    """Print a new API token for a user (shown once)."""
    from sqlalchemy import select

    from kesu.accounts import service
    from kesu.accounts.models import User
    from kesu.errors import KesuError

    settings = get_settings()
    with _database().session() as session:
        account = session.scalar(select(User).where(User.username == user))
        if account is None or not account.is_active:
            _fail(f"no such active user: {user}")
            return
        try:
            token = service.create_token(
                session,
                SystemClock(),
                service.SYSTEM,
                account,
                name,
                days=min(days or settings.token_days_default, settings.token_days_max),
                max_active=settings.tokens_per_user_max,
            )
        except KesuError as exc:
            _fail(exc.message)
            return
    typer.echo(token)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option(help="username (default: everyone)")] = None,
) -> None:
    """API tokens (newest first) with their state: active, expired or revoked."""
    from sqlalchemy import select

    from kesu.accounts import service
    from kesu.accounts.models import User

    clock = SystemClock()
    with _database().session(write=False) as session:
        owners = {i: n for i, n in session.execute(select(User.id, User.username))}
        owner_id = next((i for i, n in owners.items() if n == user), None)
        if user is not None and owner_id is None:
            _fail(f"no such user: {user}")
            return
        for token in service.list_tokens(session, owner_id):
            expires = token.expires_at.isoformat(timespec="minutes") if token.expires_at else "-"
            typer.echo(
                f"{token.id}\t{owners.get(token.user_id, '?')}\t{token.prefix}…\t"
                f"{service.token_state(token, clock)}\texpires {expires}\t{token.name}"
            )


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(min=1, help="id from `list`")]) -> None:
    """Revoke an API token at once (on every process)."""
    from kesu.accounts import service
    from kesu.accounts.audit import record_audit
    from kesu.accounts.models import ApiToken

    clock = SystemClock()
    with _database().session() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            _fail(f"no such token: {token_id}")
            return
        if token.revoked_at is None:
            token.revoked_at = clock.now()
            record_audit(
                session,
                clock,
                service.Actor("system", None, "CLI"),
                "token.revoke",
                "user",
                token.user_id,
                {"token_id": token.id, "name": token.name},
            )
        session.commit()
    typer.echo(f"revoked token {token_id}")


@app.command()
def demo(
    complaints: Annotated[int, typer.Option(min=0)] = 500,
    days: int = 180,
    seed: int = 2026,
    if_empty: Annotated[bool, typer.Option(help="only when there are no complaints")] = False,
) -> None:
    """Load demo users and generated Chinese complaints (fast enough for 1,000,000)."""
    from sqlalchemy import select

    from kesu import demo as demo_data
    from kesu.complaints.models import Complaint
    from kesu.migrate import upgrade

    database = _database()
    upgrade(database, SystemClock())
    if if_empty:
        with database.session(write=False) as session:
            if session.scalar(select(Complaint.id).limit(1)) is not None:
                console.print("complaints exist; demo data not loaded")
                return
    started = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("生成演示投诉", total=complaints)
        made = demo_data.generate(
            database, SystemClock(), complaints, days, seed, progress=lambda n: bar.advance(task, n)
        )
    database.analyze()
    elapsed = time.perf_counter() - started
    if made <= BACKFILL_LIMIT:
        from kesu.sla.reconcile import backfill

        clocked = backfill(database, SystemClock())
        console.print(f"SLA clocks for {clocked} open complaints")
    live = demo_data.bring_to_life(database, SystemClock(), get_settings())
    console.print(
        f"{live['live']} complaints with live SLA clocks, {live['spike']} in a spike, "
        f"{live['alerts']} alerts announced by one worker pass, "
        f"{live['customer_messages']} customer messages in the outbox"
    )
    _triage_demo(database, made)
    console.print(
        f"{made} complaints in {elapsed:.1f}s; staff password: {demo_data.DEMO_PASSWORD} "
        "(users: admin, manager, lead_service, agent_service_1 …)"
    )


def _triage_demo(database: Database, made: int) -> None:
    """A first category model, so the demo shows the model's suggestions beside the rules',
    and (for small demos) the stored triage of every demo complaint."""
    from kesu.errors import InvalidInput
    from kesu.triage.training import train_categories_from_database

    try:
        outcome = train_categories_from_database(
            database, SystemClock(), trained_by="demo", limit=20_000
        )
    except InvalidInput as error:
        console.print(f"no triage model trained: {error}")
        return
    console.print(
        f"triage model v{outcome.model.version}: macro-F1 {outcome.macro_f1:.2f} on "
        f"{outcome.n_test} held-out demo complaints"
    )
    if made <= TRIAGE_BACKFILL_LIMIT:
        from kesu.triage.service import backfill

        console.print(f"triage stored for {backfill(database, SystemClock())} demo complaints")


if __name__ == "__main__":
    app()
