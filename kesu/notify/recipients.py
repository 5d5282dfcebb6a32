"""Who hears about a complaint: its assignee, its team's leads, managers, executives.

Escalation level 1 goes to the team lead, level 2 to managers, level 3 to executives. A
``Directory`` loads the staff in those roles once, so a worker pass over a thousand due timers
asks the database once, not a thousand times.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.complaints.models import Complaint
from kesu.errors import InvalidInput
from kesu.web.i18n import gettext as _

LEVEL_ROLES = {1: "team_lead", 2: "manager", 3: "executive"}
TARGETS = ("assignee", "team_lead", "manager", "executive", "team_members")
PREFIXED = ("team:", "user:", "role:")


def check_targets(targets: Iterable[str], field: str = "to") -> list[str]:
    clean = []
    for target in targets:
        if target not in TARGETS and not (target.startswith(PREFIXED) and target.split(":", 1)[1]):
            options = ", ".join(TARGETS) + ", team:<code>, user:<username>, role:<role>"
            raise InvalidInput(
                _("未知的通知对象：%(target)s（可选：%(options)s）")
                % {"target": target, "options": options},
                field=field,
            )
        clean.append(target)
    return clean


class Directory:
    """Staff by role and team, loaded on first use and kept for one unit of work."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._staff: list[User] | None = None

    @property
    def staff(self) -> list[User]:
        if self._staff is None:
            self._staff = list(
                self.session.scalars(
                    select(User).where(
                        User.is_active, User.role.in_(["team_lead", "manager", "executive"])
                    )
                )
            )
        return self._staff

    def leads(self, team_id: int | None) -> list[User]:
        return [u for u in self.staff if u.role == "team_lead" and u.team_id == team_id]

    def managers(self, team_id: int | None) -> list[User]:
        found = [u for u in self.staff if u.role == "manager"]
        own = [u for u in found if u.team_id is not None and u.team_id == team_id]
        return own or [u for u in found if u.team_id is None] or found

    def executives(self) -> list[User]:
        return [u for u in self.staff if u.role == "executive"]

    def for_level(self, complaint: Complaint, level: int) -> list[User]:
        """Level 1 → the team's leads (managers when the team has none or there is no team);
        level 2 → managers; level 3 → executives (managers when there are none)."""
        if level <= 1:
            return self.leads(complaint.team_id) or self.managers(complaint.team_id)
        if level == 2:
            return self.managers(complaint.team_id)
        return self.executives() or self.managers(complaint.team_id)

    def resolve(self, complaint: Complaint, targets: Iterable[str]) -> list[User]:
        users: dict[int, User] = {}
        for target in targets:
            for user in self._one(complaint, target):
                users[user.id] = user
        return list(users.values())

    def _one(self, complaint: Complaint, target: str) -> list[User]:
        if target == "assignee":
            return [complaint.assignee] if complaint.assignee else self.for_level(complaint, 1)
        if target == "team_lead":
            return self.for_level(complaint, 1)
        if target == "manager":
            return self.for_level(complaint, 2)
        if target == "executive":
            return self.for_level(complaint, 3)
        kind, _, value = target.partition(":")
        stmt = select(User).where(User.is_active)
        if target == "team_members":
            if complaint.team_id is None:
                return []
            stmt = stmt.where(User.team_id == complaint.team_id)
        elif kind == "team":
            from kesu.accounts.models import Team

            stmt = stmt.join(Team, Team.id == User.team_id).where(Team.code == value)
        elif kind == "user":
            stmt = stmt.where(User.username == value)
        elif kind == "role":
            stmt = stmt.where(User.role == value)
        else:
            return []
        return list(self.session.scalars(stmt))
