"""SLA clocks on a real database, the clock moved and never slept (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.flows import (
    alerts,
    assign,
    clocks,
    complaint,
    create,
    local,
    make_staff,
    move,
    note,
    notified,
    worker,
)


def test_deadline_across_national_day_2026_lands_on_the_adjusted_saturday(db, settings, clock):
    """Received Wednesday 30 September 2026 at 17:00: one business hour that day, then the
    holiday (1–7 October), Thursday 8 and Friday 9, and the 调休 working Saturday 10 October."""
    clock.set(local(2026, 9, 30, 17))
    complaint_id = create(db, clock)
    found = clocks(db, complaint_id)
    assert found["first_response"].due_at == local(2026, 9, 30, 18)
    # 24 business hours: 1 (30 Sep) + 9 (8 Oct) + 9 (9 Oct) + 5 on the adjusted Saturday.
    assert found["classification"].due_at == local(2026, 10, 10, 14)
    # 48 business hours: … + 9 (10 Oct, Sat) + 9 (12 Oct) + 9 (13 Oct) + 2 → 14 Oct 11:00.
    assert found["solution"].due_at == local(2026, 10, 14, 11)
    assert complaint(db, complaint_id).due_at == local(2026, 9, 30, 18)

    note(db, clock, complaint_id, True, who_staff(db, clock))
    move(db, clock, complaint_id, "investigating")
    run = worker(db, settings, clock)
    clock.set(local(2026, 10, 5, 12))  # in the middle of the holiday nothing is due
    run.run_until_idle()
    assert [k for k, _ in alerts(db, complaint_id) if "classification" in k] == []
    clock.set(local(2026, 10, 10, 9, 11))  # 80 % is 19.2 h: Saturday 09:12
    run.run_until_idle()
    assert [k for k, _ in alerts(db, complaint_id) if "classification" in k] == []
    clock.set(local(2026, 10, 10, 9, 12))
    run.run_until_idle()
    assert [k for k, _ in alerts(db, complaint_id) if "classification" in k] == [
        "warning:classification"
    ]
    clock.set(local(2026, 10, 10, 14))
    run.run_until_idle()
    assert [k for k, _ in alerts(db, complaint_id) if "classification" in k] == [
        "warning:classification",
        "breach:classification",
    ]


def who_staff(db, clock) -> str:
    make_staff(db, clock)
    return "agent_a"


def test_a_paused_clock_keeps_its_remaining_time(db, settings, clock):
    """While waiting for the customer's confirmation (客户确认) every running clock stops; the
    deadline moves by exactly the business time spent waiting."""
    make_staff(db, clock)
    complaint_id = create(db, clock)  # Monday 23 Nov 2026 10:00
    note(db, clock, complaint_id, True, "agent_a")
    move(db, clock, complaint_id, "investigating")
    clock.advance(hours=2)  # 12:00
    move(db, clock, complaint_id, "proposing", findings="左声道焊点脱落")
    clock.advance(hours=1)  # 13:00
    move(db, clock, complaint_id, "confirming", solution="换新")
    before = clocks(db, complaint_id)
    assert before["solution"].status == "met" and not before["solution"].breached
    resolution = before["resolution"]
    assert resolution.status == "paused" and resolution.due_at is None
    # 3 business hours used (10–13); the clock stops for the weekend-long wait below.
    clock.set(local(2026, 11, 26, 15))  # Thursday 15:00: 3 days of waiting
    run = worker(db, settings, clock)
    run.run_until_idle()
    assert not [k for k, _ in alerts(db, complaint_id) if "resolution" in k]
    move(db, clock, complaint_id, "rectifying")
    after = clocks(db, complaint_id)["resolution"]
    assert after.status == "running"
    (pause_start, pause_end), *_ = after.pauses
    assert datetime.fromisoformat(pause_start) == local(2026, 11, 23, 13)
    assert datetime.fromisoformat(pause_end) == local(2026, 11, 26, 15)
    # 48 h target − 3 h used = 45 business hours from Thursday 15:00: 3 (Thu) + 9 (Fri)
    # + 9 (Mon 30) + 9 (Tue 1 Dec) + 9 (Wed 2) + 6 → Thursday 3 December 15:00.
    assert after.due_at == local(2026, 12, 3, 15)
    assert complaint(db, complaint_id).due_at == after.due_at


def test_each_escalation_level_fires_once_and_in_order(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock)  # Monday 10:00; first response within 60 business minutes
    assign(db, clock, complaint_id, "agent_a")
    run = worker(db, settings, clock)

    def first_response_alerts() -> list[tuple[str, int]]:
        return [a for a in alerts(db, complaint_id) if a[0].endswith(":first_response")]

    steps = [
        (47, []),
        (48, [("warning:first_response", 0)]),  # 80 %
        (60, [("breach:first_response", 1)]),  # the target: level 1, the team lead
        (90, [("level2:first_response", 2)]),  # 150 %: level 2, a manager
        (120, [("level3:first_response", 3)]),  # 200 %: level 3, an executive
    ]
    expected: list[tuple[str, int]] = []
    start = clock.now()
    for minutes, new in steps:
        clock.set(start + timedelta(minutes=minutes))
        for _ in range(3):  # passes repeated: nothing fires twice
            run.run_once()
        expected += new
        assert first_response_alerts() == expected, minutes
    assert notified(db, "agent_a").count("sla_warning") == 2  # first response + stage limit
    assert "sla_breach" in notified(db, "lead_a")
    assert notified(db, "manager_a").count("sla_level2") == 1
    assert notified(db, "exec_a").count("sla_level3") == 1
    assert "sla_level3" not in notified(db, "lead_a")


def test_a_worker_that_was_down_catches_up_in_order(db, settings, clock):
    make_staff(db, clock)
    complaint_id = create(db, clock)
    clock.advance(hours=5)  # 10:00 → 15:00, far past 200 % of the first response target
    worker(db, settings, clock).run_once()
    assert [a for a in alerts(db, complaint_id) if a[0].endswith(":first_response")] == [
        ("warning:first_response", 0),
        ("breach:first_response", 1),
        ("level2:first_response", 2),
        ("level3:first_response", 3),
    ]
