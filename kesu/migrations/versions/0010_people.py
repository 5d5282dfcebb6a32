"""people and rules: agents' skills, absence, shifts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
