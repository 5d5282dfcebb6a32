"""email intake: mailboxes, inbound messages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('tls', sa.String(length=16), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('password_env', sa.String(length=128), nullable=False),
    sa.Column('password_encrypted', sa.Text(), nullable=False),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('poll_seconds', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=255), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('own_addresses', sa.JSON(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('last_poll_at', kesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_poll_at', kesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_error_at', kesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', kesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', kesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_mailboxes_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailboxes')),
    sa.UniqueConstraint('code', name=op.f('uq_mailboxes_code'))
    )
    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('received_at', kesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_inbound_messages_complaint_id_complaints'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_inbound_messages_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('mailbox_id', 'uidvalidity', 'uid', name=op.f('uq_inbound_messages_mailbox_id_uidvalidity_uid'))
    )
    op.create_index(op.f('ix_inbound_messages_complaint_id'), 'inbound_messages', ['complaint_id'], unique=False)
    op.create_index('ix_inbound_messages_mailbox_id_received_at', 'inbound_messages', ['mailbox_id', 'received_at'], unique=False)
    op.create_index('ix_inbound_messages_message_id', 'inbound_messages', ['message_id'], unique=False)
    op.create_index('ix_inbound_messages_status_id', 'inbound_messages', ['status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_status_id", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_message_id", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_mailbox_id_received_at", table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_complaint_id"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("mailboxes")
