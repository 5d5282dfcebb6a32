"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kesu.knowledge.models import is_unmanaged
from kesu.models import metadata


def _managed(name, type_, parent_names):  # the knowledge search index is the migration's
    return not is_unmanaged(name)


def test_migrations_match_the_models(db):
    with db.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"include_name": _managed}), metadata
        )
    assert differences == []
