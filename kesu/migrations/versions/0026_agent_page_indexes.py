"""indexes for agent pages at a million complaints

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder (issue 13); its owner fills it


def downgrade() -> None:
    pass
