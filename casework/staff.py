"""A signed-in staff member as the rules see them: who, with which roles, teams and groups.

Every access rule (`casework.task_access`, the case page's rules) takes a `Staff`, so a page and an
API route asking the same question get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from casework.teams import membership
from casework.users import Role, StaffUser


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    roles: frozenset[Role]
    teams: frozenset[str]  # team ids
    groups: frozenset[str]  # the candidate groups of bpmn/ they answer for through their teams
    leads: frozenset[str]  # the team ids they lead (team lead role)
    language: str | None = None
    organisation: str | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


def load_staff(session: Session, user_id: str) -> Staff | None:
    """The active staff member `user_id` with their teams, or None (unknown or deactivated)."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    return staff_of(session, user)


def staff_of(session: Session, user: StaffUser) -> Staff:
    member = membership(session, user)
    return Staff(id=user.id, name=user.name, roles=user.roles, teams=member.teams, groups=member.groups,
                 leads=member.leads, language=user.language, organisation=user.organisation)
