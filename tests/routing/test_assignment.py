"""Assignment within a team: round-robin, least-loaded, skills; absent and off-shift skipped."""

from __future__ import annotations

from datetime import timedelta

from tests.flows import complaint, create, local, make_staff

ENGINEERS = {
    "eng_1": ("agent", "engineering"),
    "eng_2": ("agent", "engineering"),
    "eng_3": ("agent", "engineering"),
    "eng_lead": ("team_lead", "engineering"),
}
TECHNICAL = "产品质量/功能故障/无法开机"


def owner(db, clock, **overrides) -> str | None:
    found = complaint(db, create(db, clock, category=TECHNICAL, **overrides))
    return found.assignee.username if found.assignee else None


def profile(client, admin, username: str, **body):
    response = client.put(f"/api/v1/routing/agents/{username}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


def test_least_loaded_skips_the_absent_and_leads_without_opt_in(client, admin, db, clock):
    make_staff(db, clock, ENGINEERS)
    profile(client, admin, "eng_1", absent_until=(clock.now() + timedelta(days=2)).isoformat())
    assert [owner(db, clock) for _ in range(4)] == ["eng_2", "eng_3", "eng_2", "eng_3"]
    clock.advance(days=3)  # back from leave, with nothing open: picked first
    assert owner(db, clock) == "eng_1"


def test_off_shift_agents_are_skipped(client, admin, db, clock):
    make_staff(db, clock, ENGINEERS)
    night = {
        "timezone": "Asia/Shanghai",
        "mode": "business",
        "hours": {"mon": [["20:00", "24:00"]]},
    }
    profile(client, admin, "eng_1", shift=night)
    profile(client, admin, "eng_2", shift=night)
    assert owner(db, clock) == "eng_3"  # Monday 10:00: only eng_3 is on shift
    clock.set(local(2026, 11, 23, 21))
    profile(client, admin, "eng_3", shift={"hours": {"tue": [["09:00", "18:00"]]}})
    assert owner(db, clock) in {"eng_1", "eng_2"}


def test_nobody_available_leaves_it_with_the_team(client, admin, db, clock):
    make_staff(db, clock, {"eng_1": ("agent", "engineering")})
    profile(client, admin, "eng_1", auto_assign=False)
    complaint_id = create(db, clock, category=TECHNICAL)
    found = complaint(db, complaint_id)
    assert found.team.code == "engineering" and found.assignee is None


def test_skills_and_round_robin(client, admin, db, clock):
    make_staff(db, clock, ENGINEERS)
    profile(client, admin, "eng_2", skills=["英语", "iOS"])
    profile(client, admin, "eng_3", skills=["英语"])
    rule = client.post(
        "/api/v1/routing/rules",
        headers=admin,
        json={
            "name": "英文投诉 → 会英语的工程师",
            "position": 1,
            "stop": True,
            "conditions": {"field": "text", "op": "contains", "value": "english"},
            "actions": [
                {"type": "assign", "team": "engineering", "strategy": "skills", "skills": ["英语"]}
            ],
        },
    )
    assert rule.status_code == 201, rule.text
    picks = [owner(db, clock, content=f"English please, my phone is broken #{i}") for i in range(3)]
    assert set(picks) == {"eng_2", "eng_3"}  # never eng_1, who lacks the skill
    rr = client.post(
        "/api/v1/routing/rules",
        headers=admin,
        json={
            "name": "轮询",
            "position": 2,
            "stop": True,
            "conditions": {"field": "text", "op": "contains", "value": "轮询"},
            "actions": [{"type": "assign", "team": "engineering", "strategy": "round_robin"}],
        },
    )
    assert rr.status_code == 201
    assert [owner(db, clock, content="请轮询分配") for _ in range(4)] == [
        "eng_1",
        "eng_2",
        "eng_3",
        "eng_1",
    ]


def test_profile_input_errors_name_the_field(client, admin, db, clock):
    make_staff(db, clock, ENGINEERS)
    bad = client.put(
        "/api/v1/routing/agents/eng_1",
        json={"shift": {"hours": {"mon": [["18:00", "09:00"]]}}},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["field"].startswith("shift")
    assert client.put("/api/v1/routing/agents/nobody", json={}, headers=admin).status_code == 404
