"""Alembic environment: runs migrations on the engine kesu is configured for."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from kesu.knowledge.models import is_unmanaged
from kesu.models import metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The knowledge search index (FTS5 table / GIN expression index) is the migration's.
        include_name=lambda name, type_, parents: not is_unmanaged(name),
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from kesu.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
