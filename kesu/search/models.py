"""The indexes behind contact search (migration 0013).

Each column a search looks up gets a ``(column, id)`` index: an exact value is one range of
the index already in id order (the list's order), a prefix is one range whose few rows are
sorted. PostgreSQL compares strings by the database's collation, under which a range
``>= p AND < p_next`` is not "starts with p" (``en_US`` ignores dashes and dots at first), so
there the prefix is a ``LIKE 'p%'`` served by a ``varchar_pattern_ops`` index, which orders by
bytes under any collation (SQLite's BINARY collation does that natively).

The full-text index of migration 0023 (kesu.search.index): on PostgreSQL the table
``complaint_search`` (a model, so resets and cascades know it; empty on SQLite) with a GIN
index the migration builds; on SQLite the FTS5 table (its shadow tables, the fts5vocab table
over it), which is not a model. The FTS5 tables and the GIN index are skipped by the model
comparison (``is_unmanaged``). Importing this module registers the session hooks that keep
the index in step.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from kesu.complaints.models import Complaint, Customer
from kesu.db import Base
from kesu.search import index as index  # registers the session hooks (kesu.search.index)
from kesu.search.index import FTS_TABLE, PG_INDEX, PG_TABLE


def is_unmanaged(name: str | None) -> bool:
    """The full-text index's names the migration owns rather than the models."""
    return bool(name) and (str(name).startswith(FTS_TABLE) or name == PG_INDEX)


class ComplaintSearch(Base):
    """PostgreSQL's full-text index row of a complaint: its tokens as a ``tsvector``
    (written by kesu.search.index only; SQLite keeps the same tokens in FTS5)."""

    __tablename__ = PG_TABLE

    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    tsv: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))


PATTERN = "varchar_pattern_ops"


# The contact snapshot each complaint keeps (what it said about the customer).
Index(
    "ix_complaints_contact_phone_id",
    Complaint.contact_phone,
    Complaint.id,
    postgresql_ops={"contact_phone": PATTERN},
)
Index(
    "ix_complaints_contact_email_id",
    Complaint.contact_email,
    Complaint.id,
    postgresql_ops={"contact_email": PATTERN},
)
Index("ix_complaints_contact_name_id", Complaint.contact_name, Complaint.id)
# Order numbers by prefix (the plain ix_complaints_order_no serves equality on PostgreSQL).
Index(
    "ix_complaints_order_no_id",
    Complaint.order_no,
    Complaint.id,
    postgresql_ops={"order_no": PATTERN},
)
# The customer record: the phone and email prefixes (PostgreSQL) and the name.
Index("ix_customers_phone_prefix", Customer.phone, postgresql_ops={"phone": PATTERN})
Index("ix_customers_email_prefix", Customer.email, postgresql_ops={"email": PATTERN})
Index("ix_customers_name", Customer.name)
