"""`kesu worker` and the in-process worker of `kesu serve --with-worker`."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from kesu import cli
from kesu.config import get_settings
from kesu.worker import start_in_thread


@pytest.fixture
def configured(backend, db, monkeypatch):
    if backend != "sqlite":
        pytest.skip("the command line is exercised once, on SQLite")
    monkeypatch.setenv("KESU_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_worker_once_runs_a_pass_and_exits(configured):
    result = CliRunner().invoke(cli.app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "fired 0, re-synced 0, delivered 0" in result.output


def test_the_in_process_worker_stops_when_asked(configured, settings):
    thread, stop = start_in_thread(configured, settings)
    time.sleep(0.2)  # let it run one pass (real threads, not a moved clock)
    assert thread.is_alive()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_serve_offers_the_worker():
    result = CliRunner().invoke(cli.app, ["serve", "--help"])
    assert "--with-worker" in result.output


def test_demo_data_gets_clocks_without_paging_anyone_about_the_past(configured):
    from sqlalchemy import func, select

    from kesu.sla.models import SlaAlert, SlaClock

    result = CliRunner().invoke(cli.app, ["demo", "--complaints", "300", "--days", "20"])
    assert result.exit_code == 0, result.output
    assert "SLA clocks for" in result.output
    with configured.session(write=False) as session:
        clocks = session.scalar(select(func.count()).select_from(SlaClock))
    assert clocks and clocks > 300
    result = CliRunner().invoke(cli.app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    from kesu import demo
    from kesu.complaints import repeat_demo
    from kesu.complaints.models import Complaint

    # made alive on purpose (kesu.demo.bring_to_life); a repeat customer's first complaint is
    # days old and still open: that is why they complain again, and it is overdue
    repeats = tuple(first for first, _ in repeat_demo.PAIRS)
    live = (*demo.LIVE_TEXTS, demo.SPIKE_TEXT, *repeats)
    with configured.session(write=False) as session:
        generated = (
            select(func.count())
            .select_from(SlaAlert)
            .join(Complaint, Complaint.id == SlaAlert.complaint_id)
            .where(Complaint.content.not_in(live))
        )
        assert (session.scalar(generated) or 0) < 5


def test_demo_data_gets_a_triage_model_and_stored_triage(configured):
    from sqlalchemy import func, select

    from kesu.complaints.models import Complaint
    from kesu.triage.cli import app as triage_cli
    from kesu.triage.models import TriageModel, TriageResult

    result = CliRunner().invoke(cli.app, ["demo", "--complaints", "300", "--days", "20"])
    assert result.exit_code == 0, result.output
    assert "triage model v1" in result.output
    with configured.session(write=False) as session:
        complaints = session.scalar(select(func.count()).select_from(Complaint))
        triaged = session.scalar(select(func.count()).select_from(TriageResult))
        model = session.scalar(select(TriageModel))
        assert model is not None and model.status == "active" and model.trained_by == "demo"
    assert triaged == complaints
    # nothing left to backfill
    result = CliRunner().invoke(triage_cli, ["backfill"])
    assert result.exit_code == 0 and "triaged 0 complaints" in result.output
