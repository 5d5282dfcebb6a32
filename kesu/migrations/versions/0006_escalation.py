"""escalations: tasks, incidents and ownership

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Closing an incident records who closed it and why (the incident page's close form).
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_by', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('close_note', sa.Text(), nullable=False, server_default=''))
    # Who claimed a task from the team queue, and who completed it.
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done_by', sa.String(length=128), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('done_by')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('close_note')
        batch_op.drop_column('closed_by')
