"""The lists' scope branches narrowed by the team and assignee filters (issue 13) return exactly
what scope ∧ filters allow: every combination, for an agent, an agent without a team and a
manager, on the newest-first list and on a sorted one."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select, update

from kesu.accounts.models import Team, User
from kesu.accounts.service import Actor
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.queries import ComplaintFilters, list_complaints, query_branches
from kesu.complaints.schemas import ComplaintCreate
from kesu.complaints.sorting import Sort, list_sorted

TEAMS = (None, "service", "logistics")
STAGES = (("registered", True), ("investigating", True), ("archived", False))


@pytest.fixture
def grid(db: Any, clock: Any, make_user: Any) -> dict[str, Any]:
    """One complaint per (team, assignee, stage): no team / service / logistics × nobody /
    agent (service) / other (logistics) / loner (no team) × registered / investigating /
    archived; severities vary."""
    agent, _ = make_user("agent_b", "agent", "service")
    other, _ = make_user("other_b", "agent", "logistics")
    loner, _ = make_user("loner_b", "agent", None)
    manager, _ = make_user("manager_b", "manager", "service")
    people = (None, agent, other, loner)
    with db.session() as session:
        team_ids = {t.code: t.id for t in session.scalars(select(Team))}
        made = []
        for i, (team, person, (stage, is_open)) in enumerate(
            itertools.product(TEAMS, people, STAGES)
        ):
            body = {
                "channel": "web",
                "content": f"第 {i} 条：耳机没有声音",
                "customer": {"name": "客户", "phone": f"1370001{i:04d}"},
            }
            complaint, _ = registration.create_complaint(
                session,
                clock,
                Actor("customer", None, "客户"),
                ComplaintCreate.model_validate(body),
            )
            made.append((complaint, team, person, stage, is_open, ("minor", "major")[i % 2]))
        session.flush()
        for complaint, team, person, stage, is_open, severity in made:
            session.execute(
                update(Complaint)
                .where(Complaint.id == complaint.id)
                .values(
                    team_id=team_ids[team] if team else None,
                    assignee_id=person.id if person else None,
                    stage=stage,
                    is_open=is_open,
                    severity=severity,
                )
            )
        session.commit()
    return {"users": (agent, loner, manager), "team_ids": team_ids}


def _expected(session: Any, user: User, f: ComplaintFilters, team_ids: dict[str, int]) -> list[int]:
    """Scope and filters evaluated in Python over every complaint."""
    found = []
    for c in session.scalars(select(Complaint)):
        everything = user.role == "manager" and not f.team_queue
        if not (
            everything or c.team_id is None or c.assignee_id == user.id or c.team_id == user.team_id
        ):
            continue
        if f.team == "none" and c.team_id is not None:
            continue
        if f.team not in (None, "none"):
            wanted = int(f.team) if f.team.isdigit() else team_ids[f.team]
            if c.team_id != wanted:
                continue
        if f.assignee == "none" and c.assignee_id is not None:
            continue
        if f.assignee == "me" and c.assignee_id != user.id:
            continue
        named = f.assignee not in (None, "none", "me")
        if named and (c.assignee is None or c.assignee.username != f.assignee):
            continue
        if f.open is not None and c.is_open != f.open:
            continue
        if f.stage and c.stage != f.stage:
            continue
        if f.severity and c.severity != f.severity:
            continue
        found.append(c.id)
    return sorted(found, reverse=True)


def _filters() -> list[ComplaintFilters]:
    combos = itertools.product(
        (None, "none", "service", "logistics"),
        (None, "none", "me", "other_b"),
        (False, True),
        (None, True),
        (None, "investigating", "archived"),
    )
    found = [
        ComplaintFilters(team=t, assignee=a, team_queue=q, open=o, stage=s)
        for t, a, q, o, s in combos
    ]
    found.append(ComplaintFilters(team="logistics", team_queue=True, severity="major"))
    return found


def test_every_combination_lists_exactly_scope_and_filters(db: Any, clock: Any, grid: Any) -> None:
    team_ids = grid["team_ids"]
    with db.session(write=False) as session:
        for user_row in grid["users"]:
            user = session.get(User, user_row.id)
            for f in _filters():
                expected = _expected(session, user, f, team_ids)
                rows, cursor = list_complaints(session, user, f, clock.now(), limit=200)
                assert [c.id for c in rows] == expected, (user.username, f)
                assert cursor is None
                by_received, _ = list_sorted(
                    session, user, f, clock.now(), Sort("received", desc=True), limit=200
                )
                assert sorted((c.id for c in by_received), reverse=True) == expected, (
                    user.username,
                    f,
                )


def test_contradictory_branches_are_not_queried(db: Any, grid: Any) -> None:
    """An agent filtering on another team reads only their own complaints in it (one branch);
    on their own team one branch; "no team" the pool alone."""
    agent = grid["users"][0]
    with db.session(write=False) as session:
        user = session.get(User, agent.id)

        def count(**kw: Any) -> int:
            return len(query_branches(session, user, ComplaintFilters(team_queue=True, **kw)))

        assert count() == 3
        assert count(team="logistics") == 1
        assert count(team="service") == 1
        assert count(team=str(grid["team_ids"]["service"])) == 1
        assert count(team="none") == 1
        assert count(assignee="none") == 2  # the pool's and the team's unassigned
        assert count(assignee="me") == 1
        assert count(team="logistics", assignee="none") == 0  # nothing can match
