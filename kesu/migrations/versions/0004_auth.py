"""accounts: server-side sessions, login throttle, token expiry

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
