"""sla clocks, fewer rows and indexes

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder (issue 13); its owner fills it


def downgrade() -> None:
    pass
