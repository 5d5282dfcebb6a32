"""Picking a person within a team: round-robin, least-loaded or by skills.

Candidates are the team's active agents (and team leads whose profile opts them in). Anyone
absent (``absent_until`` in the future) or off shift (outside their shift calendar) is skipped;
when nobody is available the complaint stays with the team, unassigned, for someone to claim.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.routing import loads
from kesu.routing.models import AgentProfile, AssignmentCursor
from kesu.sla.calendar import BusinessCalendar, CalendarConfigError


def candidates(
    session: Session, team: Team, now: datetime, skills: list[str] | None = None
) -> list[User]:
    """The team's members who may take a complaint now, in a stable order (by id)."""
    members = list(
        session.scalars(
            select(User)
            .where(User.team_id == team.id, User.is_active, User.role.in_(["agent", "team_lead"]))
            .order_by(User.id)
        )
    )
    if not members:
        return []
    profiles = {
        p.user_id: p
        for p in session.scalars(
            select(AgentProfile).where(AgentProfile.user_id.in_([m.id for m in members]))
        )
    }
    wanted = {s.casefold() for s in skills or []}
    found = []
    for user in members:
        profile = profiles.get(user.id)
        if not is_available(user, profile, now):
            continue
        have = {s.casefold() for s in (profile.skills if profile else [])}
        if wanted <= have:
            found.append(user)
    return found


def is_available(user: User, profile: AgentProfile | None, now: datetime) -> bool:
    if profile is None:
        return user.role == "agent"
    if not profile.auto_assign:
        return False
    if profile.absent_until is not None and profile.absent_until > now:
        return False
    if profile.shift:
        try:
            return BusinessCalendar.from_config(profile.shift).is_business_time(now)
        except CalendarConfigError:
            return True  # validated on save; never lose a complaint over a broken shift
    return True


def pick(
    session: Session, team: Team, strategy: str, now: datetime, skills: list[str] | None = None
) -> User | None:
    """The person ``strategy`` picks in ``team``, or None (nobody available, or "none")."""
    if strategy == "none":
        return None
    people = candidates(session, team, now, skills if strategy == "skills" else skills or None)
    if not people:
        return None
    if strategy == "round_robin":
        return _round_robin(session, team, people, now)
    return least_loaded(session, people)


def least_loaded(session: Session, people: list[User]) -> User:
    """The person with the fewest open complaints (ties: the lowest id), read from the
    counters of kesu.routing.loads: primary-key look-ups, not a count over the complaints."""
    counts = loads.open_counts(session, (p.id for p in people))
    return min(people, key=lambda p: (counts.get(p.id, 0), p.id))


def _round_robin(session: Session, team: Team, people: list[User], now: datetime) -> User:
    """The next person after the one picked last, wrapping around. The cursor row is locked
    (PostgreSQL) so two concurrent intakes do not pick the same person."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(AssignmentCursor)
        .values(team_id=team.id, last_user_id=None, updated_at=now)
        .on_conflict_do_nothing(index_elements=["team_id"])
    )
    cursor = session.scalars(
        select(AssignmentCursor)
        .where(AssignmentCursor.team_id == team.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    last = cursor.last_user_id or 0
    chosen = next((p for p in people if p.id > last), people[0])
    cursor.last_user_id = chosen.id
    cursor.updated_at = now
    return chosen
