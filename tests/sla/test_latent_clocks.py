"""Latent clocks (kesu.sla.service): a new complaint stores only the clocks that need a row, and
the others still fire on time, show in the API, count in ``due_at`` and end on record."""

from __future__ import annotations

from kesu.complaints import service
from kesu.complaints.models import Complaint
from kesu.sla.service import WAKE
from tests.flows import (
    alerts,
    clocks,
    complaint,
    create,
    make_staff,
    note,
    stored_clocks,
    worker,
)

MILESTONES = {"first_response", "classification", "solution", "resolution", "stage"}


def test_a_new_complaint_stores_one_or_two_clocks_of_five(db, clock):
    complaint_id = create(db, clock)
    every = clocks(db, complaint_id)
    stored = stored_clocks(db, complaint_id)
    assert set(every) == MILESTONES
    assert set(stored) <= {"first_response", "stage"} and len(stored) <= 2
    # the earliest deadline over every clock, stored or not
    assert complaint(db, complaint_id).due_at == min(c.due_at for c in every.values())
    # one stored clock carries the latent clocks' first threshold
    wakes = [c for c in stored.values() if c.wake_at is not None]
    latent_first = min(c.next_fire_at for k, c in every.items() if k not in stored)
    assert [c.wake_at for c in wakes] == [latent_first]
    assert all(c.next_fire_at <= latent_first for c in stored.values())


def test_latent_clocks_fire_on_time_and_in_order(db, settings, clock):
    """Nobody answers for eight days (over five working days, past the 48 business hours of
    solution and resolution): every threshold of every milestone fires, the latent ones too,
    once each."""
    make_staff(db, clock)
    complaint_id = create(db, clock)
    for _ in range(8 * 8):  # a pass every 3 hours
        clock.advance(hours=3)
        worker(db, settings, clock).run_once()
    fired = [kind for kind, _ in alerts(db, complaint_id)]
    assert len(fired) == len(set(fired))
    for milestone in ("classification", "solution", "resolution"):
        assert f"warning:{milestone}" in fired and f"breach:{milestone}" in fired
        assert fired.index(f"warning:{milestone}") < fired.index(f"breach:{milestone}")
    assert fired.index("level3:first_response") < fired.index("warning:classification")
    assert set(stored_clocks(db, complaint_id)) == MILESTONES
    assert not any(c.next_kind == WAKE for c in stored_clocks(db, complaint_id).values())


def test_a_wake_stores_the_clock_just_before_it_fires(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock)
    clock.advance(minutes=5)
    note(db, clock, complaint_id, True, "agent_a")  # first response met: its row stays
    assert "classification" not in stored_clocks(db, complaint_id)
    classification = clocks(db, complaint_id)["classification"]
    clock.set(classification.next_fire_at)  # its warning, exactly
    worker(db, settings, clock).run_once()
    assert ("warning:classification", 0) in alerts(db, complaint_id)
    assert stored_clocks(db, complaint_id)["classification"].notified == 1


def test_closing_records_the_latent_clocks(db, clock):
    complaint_id = create(db, clock)
    duplicate_id = create(db, clock, content="同一个问题，又投诉一次")
    with db.session() as session:
        keep = session.get(Complaint, complaint_id)
        duplicate = session.get(Complaint, duplicate_id)
        assert keep is not None and duplicate is not None
        from kesu.accounts.service import SYSTEM

        service.merge(session, clock, SYSTEM, duplicate, keep, duplicate.version, "重复")
    stored = stored_clocks(db, duplicate_id)
    # the policy's milestones all on record; a latent stage clock ends with its stage
    assert MILESTONES - {"stage"} <= set(stored)
    assert {c.status for c in stored.values()} == {"cancelled"}
