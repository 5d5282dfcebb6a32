"""assignee open-complaint counters

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder (issue 13); its owner fills it


def downgrade() -> None:
    pass
