"""compensation standards (versions, rules) and the order value

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compensation_standard_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", kesu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_standard_versions")),
        sa.UniqueConstraint("number", name=op.f("uq_compensation_standard_versions_number")),
    )

    op.create_table(
        "compensation_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("amount_rule", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["compensation_standard_versions.id"],
            name=op.f("fk_compensation_rules_version_id_compensation_standard_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_rules")),
        sa.UniqueConstraint(
            "version_id", "position", name=op.f("uq_compensation_rules_version_id_position")
        ),
    )

    with op.batch_alter_table("compensation_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compensation_rules_version_id"), ["version_id"], unique=False
        )

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("order_value", sa.Numeric(precision=14, scale=2), nullable=True)
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("order_value")
    op.drop_table("compensation_rules")
    op.drop_table("compensation_standard_versions")
