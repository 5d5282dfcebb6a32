"""privacy: what each complaint said about its customer, masking, anonymisation

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kesu.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymized_at', kesu.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_name', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=255), nullable=True))
    # Existing complaints said what their customer row says now (the closest we can know).
    op.execute(
        "UPDATE complaints SET"
        " contact_name = (SELECT name FROM customers WHERE customers.id = complaints.customer_id),"
        " contact_phone = (SELECT phone FROM customers WHERE customers.id = complaints.customer_id),"
        " contact_email = (SELECT email FROM customers WHERE customers.id = complaints.customer_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_name')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('anonymized_at')
