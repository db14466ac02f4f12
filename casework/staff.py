"""A signed-in staff member as the rules see them: who, with which roles, teams and groups.

Every access rule (`casework.task_access`, the case page's rules) takes a `Staff`, so a page and an
API route asking the same question get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.teams import TeamGroup, TeamMember, membership
from casework.users import Role, StaffRole, StaffUser


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
    partner_id: int | None = None  # a partner account: the network partner it answers for

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def logged_role(self) -> str:
        """The role an access is logged under: the first the person holds of LOGGED_ROLE_ORDER."""
        return next((r.value for r in LOGGED_ROLE_ORDER if r in self.roles), "staff")


LOGGED_ROLE_ORDER = (Role.TEAM_LEAD, Role.COORDINATOR, Role.CASE_MANAGER, Role.PARTNER, Role.MANAGER, Role.ADMIN,
                     Role.PROCESS_OWNER)


def load_staff(session: Session, user_id: str) -> Staff | None:
    """The active staff member `user_id` with their teams, or None (unknown or deactivated).

    Every signed-in request asks this, so it is two plain queries (the account with its roles; the teams
    with the groups they answer for), not the ORM objects and their relationships.
    """
    rows = session.execute(select(StaffUser.name, StaffUser.active, StaffUser.language, StaffUser.organisation,
                                  StaffUser.partner_id, StaffRole.role)
                           .outerjoin(StaffRole, StaffRole.user_id == StaffUser.id)
                           .where(StaffUser.id == user_id)).all()
    if not rows or not rows[0].active:
        return None
    first = rows[0]
    roles = frozenset(r.role for r in rows if r.role is not None)
    teams: set[str] = set()
    groups: set[str] = set()
    for team_id, group, role in session.execute(
            select(TeamMember.team_id, TeamGroup.group, TeamGroup.role)
            .outerjoin(TeamGroup, TeamGroup.team_id == TeamMember.team_id).where(TeamMember.user_id == user_id)):
        teams.add(team_id)
        if group is not None and (role is None or role in roles):
            groups.add(group)
    return Staff(id=user_id, name=first.name, roles=roles, teams=frozenset(teams), groups=frozenset(groups),
                 leads=frozenset(teams) if Role.TEAM_LEAD in roles else frozenset(), language=first.language,
                 organisation=first.organisation, partner_id=first.partner_id)


def staff_of(session: Session, user: StaffUser) -> Staff:
    member = membership(session, user)
    return Staff(id=user.id, name=user.name, roles=user.roles, teams=member.teams, groups=member.groups,
                 leads=member.leads, language=user.language, organisation=user.organisation,
                 partner_id=user.partner_id)
