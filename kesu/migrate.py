"""Applying migrations (Alembic) and loading the default configuration."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from kesu.clock import Clock
from kesu.db import Database
from kesu.seeds.loader import load_defaults

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database, clock: Clock, revision: str = "head") -> list[str]:
    """Migrates the schema to ``revision`` and seeds any empty configuration table."""
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    with db.session() as session:
        return load_defaults(session, clock)


def is_empty(db: Database) -> bool:
    return "complaints" not in inspect(db.engine).get_table_names()
