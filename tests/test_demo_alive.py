"""`kesu demo` leaves a lived-in system: live SLA warnings and breaches, bells, an open
incident with its complaints, and open tasks (SQLite, a small demo)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from kesu.accounts.models import User
from kesu.attachments.models import Attachment
from kesu.attachments.storage import get_storage
from kesu.cli import app
from kesu.config import get_settings
from kesu.db import Database
from kesu.incidents.models import Incident, IncidentComplaint
from kesu.notify.models import Notification
from kesu.sla.models import SlaAlert
from kesu.tasks.models import Task


@pytest.fixture
def demo_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("KESU_DATABASE_URL", url)
    monkeypatch.setenv("KESU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["demo", "--complaints", "300", "--days", "60"])
    assert result.exit_code == 0, result.output
    database = Database(url)
    yield database
    database.dispose()
    get_settings.cache_clear()


def _unread(session, username: str) -> set[str]:
    """The events of the user's unread bell notifications."""
    user_id = session.scalar(select(User.id).where(User.username == username))
    return set(
        session.scalars(
            select(Notification.event).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
    )


def test_the_demo_is_alive(demo_db: Database) -> None:
    with demo_db.session(write=False) as session:
        kinds = set(session.scalars(select(SlaAlert.kind)))
        assert any(k.startswith("warning:") for k in kinds), kinds
        assert any(k.startswith("breach:") for k in kinds), kinds
        assert any(k.startswith("level2:") for k in kinds), kinds
        assert "sla_breach" in _unread(session, "lead_service")
        assert {"sla_level2", "incident_opened"} <= _unread(session, "manager")
        incident = session.scalar(select(Incident).where(Incident.status == "open"))
        assert incident is not None
        linked = session.scalar(
            select(func.count())
            .select_from(IncidentComplaint)
            .where(IncidentComplaint.incident_id == incident.id)
        )
        assert linked >= 2
        open_tasks = list(session.scalars(select(Task).where(Task.status == "open")))
        assert {t.kind for t in open_tasks} == {"escalation", "subtask"}
        # attachments: customer photos (with thumbnails) and an internal file, blobs on disk
        files = list(session.scalars(select(Attachment)))
        assert {a.visibility for a in files} == {"public", "internal"}
        assert all(a.thumbnail_sha256 for a in files)
        store = get_storage(get_settings())
        assert all(store.exists(a.sha256) for a in files)


def test_the_demo_leaves_customer_messages_in_the_outbox(demo_db: Database) -> None:
    from kesu.notify.models import OutboxMessage

    with demo_db.session(write=False) as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.event.like("customer.%")))
        )
    events = {r.event for r in rows}
    assert {"customer.ack", "customer.message", "customer.confirm"} <= events, events
    assert any(r.title.startswith("[TS") and "received" in r.title for r in rows)  # English


def test_the_demo_has_a_knowledge_base(demo_db: Database) -> None:
    from kesu.knowledge.models import Article

    with demo_db.session(write=False) as session:
        rows = list(session.scalars(select(Article).where(Article.status == "published")))
    assert len([a for a in rows if a.seed_key]) >= 10  # the shipped articles
    made = [a for a in rows if a.source_complaint_id]  # a resolved complaint turned article
    assert made and made[0].helpful == 1
