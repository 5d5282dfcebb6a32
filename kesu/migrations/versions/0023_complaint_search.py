"""full-text search index of complaints

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 07:00:00

SQLite: the FTS5 table ``complaints_fts`` (rowid = complaint id) and an ``fts5vocab`` table
over it (document frequencies, which pick the query plan); PostgreSQL: ``complaint_search``
(complaint id, tsvector) with a GIN index built after the backfill. Every existing complaint
is indexed in batches of ``kesu.search.index.BATCH`` (keyset on id), so memory stays flat on
a database of a million complaints; the whole migration is one transaction.
"""

from __future__ import annotations

import logging

from alembic import op

from kesu.search import index

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

log = logging.getLogger("kesu.migrations")


def upgrade() -> None:
    connection = op.get_bind()
    index.create_index(connection)

    def progress(done: int) -> None:
        if done % 100_000 < index.BATCH:
            log.info("complaint search index: %s complaints", done)

    index.backfill(connection, progress=progress)
    index.create_pg_gin(connection)
    index.optimize(connection)


def downgrade() -> None:
    index.drop_index(op.get_bind())
