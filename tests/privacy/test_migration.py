"""Migration 0005 gives existing complaints the snapshot of their customer as it is now."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from kesu.db import Database
from kesu.migrate import alembic_config


def _migrate(db: Database, revision: str) -> None:
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_existing_complaints_get_their_customers_contact(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    _migrate(db, "0004")
    now = "2026-11-23 02:00:00"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stages (code, name, name_en, public_name, position, category,"
                " allowed_roles, required_outputs, back_to, is_active)"
                " VALUES ('registered', '登记', 'Registered', '', 1, 'open', '[]', '[]', '[]', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO customers (id, name, phone, email, tier, created_at, updated_at)"
                " VALUES (1, '王女士', '13800138000', 'wang@example.com', 'standard', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO complaints (id, number, title, content, channel, customer_id,"
                " severity, priority, stage, stage_entered_at, is_open, tags, custom_fields,"
                " outputs, tracking_token, received_at, created_at, updated_at, reopen_count,"
                " version) VALUES (1, 'TS20261123-000001', 't', 'c', 'web', 1, 'minor', 3,"
                " 'registered', :now, 1, '[]', '{}', '{}', 'tok', :now, :now, :now, 0, 1)"
            ),
            {"now": now},
        )
    _migrate(db, "0005")
    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT contact_name, contact_phone, contact_email FROM complaints")
        ).one()
    assert tuple(row) == ("王女士", "13800138000", "wang@example.com")
    db.dispose()
