"""administration: SLA, calendars, endpoints, form fields, categories, agents

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Notes on the admin's extra holidays and working days of a calendar: {"2026-12-24": "…"}.
    with op.batch_alter_table('sla_calendars') as batch:
        batch.add_column(
            sa.Column('day_notes', sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table('sla_calendars') as batch:
        batch.drop_column('day_notes')
