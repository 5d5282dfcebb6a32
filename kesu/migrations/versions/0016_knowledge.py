"""knowledge base

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("product_models", sa.JSON(), nullable=False),
        sa.Column("error_codes", sa.JSON(), nullable=False),
        sa.Column("search_tokens", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_complaint_id", sa.Integer(), nullable=True),
        sa.Column("seed_key", sa.String(length=64), nullable=True),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("inserts", sa.Integer(), nullable=False),
        sa.Column("helpful", sa.Integer(), nullable=False),
        sa.Column("unhelpful", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kesu.db.UTCDateTime(), nullable=False),
        sa.Column("published_at", kesu.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_knowledge_articles_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["source_complaint_id"],
            ["complaints.id"],
            name=op.f("fk_knowledge_articles_source_complaint_id_complaints"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_knowledge_articles_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_knowledge_articles_updated_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_knowledge_articles_reviewed_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_articles")),
        sa.UniqueConstraint("seed_key", name=op.f("uq_knowledge_articles_seed_key")),
    )
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.create_index("ix_knowledge_articles_status_kind_id", ["status", "kind", "id"])
        batch_op.create_index("ix_knowledge_articles_category_status", ["category_id", "status"])
    op.create_table(
        "knowledge_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sa.String(length=128), nullable=False),
        sa.Column("created_at", kesu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_versions_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_knowledge_versions_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_versions")),
        sa.UniqueConstraint("article_id", "seq", name=op.f("uq_knowledge_versions_article_id_seq")),
    )
    op.create_table(
        "knowledge_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("created_at", kesu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_votes_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_knowledge_votes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_votes")),
        sa.UniqueConstraint(
            "article_id", "user_id", name=op.f("uq_knowledge_votes_article_id_user_id")
        ),
    )
    # The search index (not in the models: kesu.knowledge.models.is_unmanaged).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE knowledge_fts USING fts5(tokens, tokenize = 'unicode61')")
    else:
        op.execute(
            "CREATE INDEX ix_knowledge_articles_search ON knowledge_articles "
            "USING gin (to_tsvector('simple', search_tokens))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_knowledge_articles_search")
    op.drop_table("knowledge_votes")
    op.drop_table("knowledge_versions")
    op.drop_table("knowledge_articles")
