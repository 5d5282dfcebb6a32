"""social intake: sources, deliveries, mentions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('social_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('secret_rotated_at', kesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_delivery_at', kesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=False),
    sa.Column('last_error_at', kesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', kesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', kesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_sources')),
    sa.UniqueConstraint('code', name=op.f('uq_social_sources_code'))
    )
    op.create_table('social_delivery_counts',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('complaints', sa.Integer(), nullable=False),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.Column('replays', sa.Integer(), nullable=False),
    sa.Column('bad_signature', sa.Integer(), nullable=False),
    sa.Column('invalid', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['social_sources.id'], name=op.f('fk_social_delivery_counts_source_id_social_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'day', name=op.f('pk_social_delivery_counts'))
    )
    op.create_table('social_mentions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('delivery_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=True),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('order_no', sa.String(length=64), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', kesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dismiss_reason', sa.String(length=500), nullable=True),
    sa.Column('received_at', kesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_social_mentions_complaint_id_complaints'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_social_mentions_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['source_id'], ['social_sources.id'], name=op.f('fk_social_mentions_source_id_social_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_mentions')),
    sa.UniqueConstraint('source_id', 'delivery_id', name=op.f('uq_social_mentions_source_id_delivery_id')),
    sa.UniqueConstraint('source_id', 'external_id', name=op.f('uq_social_mentions_source_id_external_id'))
    )
    op.create_index(op.f('ix_social_mentions_complaint_id'), 'social_mentions', ['complaint_id'], unique=False)
    op.create_index('ix_social_mentions_status_id', 'social_mentions', ['status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_social_mentions_status_id', table_name='social_mentions')
    op.drop_index(op.f('ix_social_mentions_complaint_id'), table_name='social_mentions')
    op.drop_table('social_mentions')
    op.drop_table('social_delivery_counts')
    op.drop_table('social_sources')
