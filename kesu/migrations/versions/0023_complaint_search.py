"""full-text search index of complaints

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 07:00:00

SQLite: the FTS5 table ``complaints_fts`` (rowid = complaint id) and an ``fts5vocab`` table
over it (document frequencies, which pick the query plan); PostgreSQL: ``complaint_search``
(complaint id, tsvector; the table exists, empty, on SQLite too: it is a model) with a GIN
index built after the backfill. Every existing complaint
is indexed in batches of ``kesu.search.index.BATCH`` (keyset on id), so memory stays flat on
a database of a million complaints; the whole migration is one transaction.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kesu.search import index

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

log = logging.getLogger("kesu.migrations")


def upgrade() -> None:
    op.create_table(
        "complaint_search",
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column(
            "tsv", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_search_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaint_search")),
    )
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
    op.drop_table("complaint_search")
