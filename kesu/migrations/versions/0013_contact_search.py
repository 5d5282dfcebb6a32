"""contact search indexes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:00:00

The workbench's search by phone, email, name and order number (kesu/search/models.py).
On a large PostgreSQL table consider building them by hand first with
``CREATE INDEX CONCURRENTLY`` (same names): this migration then skips the ones that exist.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PATTERN = "varchar_pattern_ops"
INDEXES: list[tuple[str, str, list[str], str | None]] = [
    ("ix_complaints_contact_phone_id", "complaints", ["contact_phone", "id"], "contact_phone"),
    ("ix_complaints_contact_email_id", "complaints", ["contact_email", "id"], "contact_email"),
    ("ix_complaints_contact_name_id", "complaints", ["contact_name", "id"], None),
    ("ix_complaints_order_no_id", "complaints", ["order_no", "id"], "order_no"),
    ("ix_customers_phone_prefix", "customers", ["phone"], "phone"),
    ("ix_customers_email_prefix", "customers", ["email"], "email"),
    ("ix_customers_name", "customers", ["name"], None),
]


def upgrade() -> None:
    existing = {
        ix["name"]
        for table in ("complaints", "customers")
        for ix in sa.inspect(op.get_bind()).get_indexes(table)
    }
    for name, table, columns, pattern in INDEXES:
        if name in existing:
            continue
        ops = {"postgresql_ops": {pattern: PATTERN}} if pattern else {}
        op.create_index(name, table, columns, **ops)


def downgrade() -> None:
    for name, table, _columns, _pattern in reversed(INDEXES):
        op.drop_index(name, table_name=table)
