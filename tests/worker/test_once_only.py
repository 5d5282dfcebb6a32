"""The unique key (complaint, kind, deadline) keeps an alert once-only even when a clock is
re-armed for a threshold already alerted (a stale recompute racing the worker)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from kesu.sla.models import SlaClock
from tests.flows import alerts, assign, create, events, make_staff, notified, worker


def test_a_rearmed_threshold_is_not_announced_twice(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock)
    assign(db, clock, complaint_id, "agent_a")
    clock.advance(minutes=50)
    run = worker(db, settings, clock)
    run.run_once()
    first = alerts(db, complaint_id)
    assert ("warning:first_response", 0) in first
    # A stale writer puts the clock back to "warning due now" for the same deadline.
    with db.session() as session:
        session.execute(
            update(SlaClock)
            .where(SlaClock.complaint_id == complaint_id, SlaClock.milestone == "first_response")
            .values(
                notified=0, next_kind="warning", next_fire_at=clock.now() - timedelta(minutes=1)
            )
        )
    run.run_once()
    assert alerts(db, complaint_id) == first
    warnings = [e for e in events(db, complaint_id) if e.kind == "sla_warning"]
    assert len(warnings) == len([k for k, _ in first if k.startswith("warning")])
    assert notified(db, "agent_a").count("sla_warning") == len(warnings)
