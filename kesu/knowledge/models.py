"""Knowledge base tables: articles, their versions, helpfulness votes.

The search index is not a model: on SQLite it is the FTS5 table ``knowledge_fts`` (rowid =
article id, one column of space-joined tokens), on PostgreSQL a GIN index on
``to_tsvector('simple', search_tokens)``. Both are created by migration 0016 and left out of
the model comparison (``UNMANAGED``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kesu.db import Base

# The search index's names (created by the migration per database, not by the models).
FTS_TABLE = "knowledge_fts"
PG_INDEX = "ix_knowledge_articles_search"
UNMANAGED_PREFIX = FTS_TABLE


def is_unmanaged(name: str | None) -> bool:
    """Names the model comparison must skip: the FTS5 table, its shadow tables, the GIN index."""
    from kesu.search.models import is_unmanaged as complaints_index  # issue 13's index too

    return bool(name) and (
        str(name).startswith(UNMANAGED_PREFIX) or name == PG_INDEX or complaints_index(name)
    )


class Article(Base):
    """A knowledge article. ``version`` counts published editions (``ArticleVersion`` keeps
    each); ``search_tokens`` is the segmented title, body, tags, product models and error
    codes the index is built from (kept in the same transaction as every edit)."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (
        Index("ix_knowledge_articles_status_kind_id", "status", "kind", "id"),
        Index("ix_knowledge_articles_category_status", "category_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    tags: Mapped[list[str]] = mapped_column(default=list)
    product_models: Mapped[list[str]] = mapped_column(default=list)
    error_codes: Mapped[list[str]] = mapped_column(default=list)
    search_tokens: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=0)
    source_complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL")
    )
    seed_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    views: Mapped[int] = mapped_column(default=0)
    inserts: Mapped[int] = mapped_column(default=0)
    helpful: Mapped[int] = mapped_column(default=0)
    unhelpful: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class ArticleVersion(Base):
    """One edition of an article as it was written: who, when, what (``status`` is the
    article's status after the change: draft saves, submissions, publications)."""

    __tablename__ = "knowledge_versions"
    __table_args__ = (UniqueConstraint("article_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"))
    seq: Mapped[int]
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]


class Vote(Base):
    """One helpfulness vote per user and article (a second vote replaces the first)."""

    __tablename__ = "knowledge_votes"
    __table_args__ = (UniqueConstraint("article_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    helpful: Mapped[bool]
    created_at: Mapped[datetime]
