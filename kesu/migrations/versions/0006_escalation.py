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
    pass


def downgrade() -> None:
    pass
