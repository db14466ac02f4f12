"""Teams of staff, and the candidate groups of `bpmn/` resolved to people.

A diagram names groups (`coordinators`, `teamLeads`, `workAbilityTeam`), never people. A team (a
municipality's work ability team, a coordinators' group) answers for some of those groups: every
member, or only members with a given role (the team's coordinators answer for `coordinators`, its
team lead for `teamLeads`). So a task offered to a group reaches the right people, and a team lead sees
the work of their own team.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from casework.errors import Refused, get_or_raise
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.users import Role, StaffUser

# The candidate groups of bpmn/ and who answers for them in a team made by `polku user add --team`
# or the demo (a county may map its own).
DEFAULT_GROUPS: dict[str, Role | None] = {
    "coordinators": Role.COORDINATOR,
    "teamLeads": Role.TEAM_LEAD,
    "workAbilityTeam": None,
}


class Team(CaseworkBase):
    __tablename__ = "team"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    municipality: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    members: Mapped[list[TeamMember]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    groups: Mapped[list[TeamGroup]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class TeamMember(CaseworkBase):
    __tablename__ = "team_member"
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


class TeamGroup(CaseworkBase):
    """The team answers for candidate group `group`: its members with `role`, or all of them when None."""

    __tablename__ = "team_group"
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    role: Mapped[Role | None] = mapped_column(enum_type(Role))


@dataclass(frozen=True)
class Membership:
    """What a person's teams give them: the teams, the groups they answer for, the teams they lead."""

    teams: frozenset[str]
    groups: frozenset[str]
    leads: frozenset[str]


def add_team(session: Session, team_id: str, name: str, at: datetime, municipality: str | None = None,
             groups: dict[str, Role | None] | None = None) -> Team:
    """A team answering for `groups` (default: the groups of bpmn/, see DEFAULT_GROUPS)."""
    if session.get(Team, team_id) is not None:
        raise Refused(f"team '{team_id}' already exists")
    team = Team(id=team_id, name=name, municipality=municipality, created_at=at,
                groups=[TeamGroup(group=g, role=r) for g, r in (DEFAULT_GROUPS if groups is None else groups).items()])
    session.add(team)
    session.flush()
    return team


def get_team(session: Session, team_id: str) -> Team:
    return get_or_raise(session, Team, team_id, "team")


def team_for_municipality(session: Session, municipality: str | None) -> str | None:
    """The team a new case of this municipality belongs to: the team named for it, else the only team there is."""
    if municipality:
        named = session.scalars(select(Team.id).where(func.lower(Team.municipality) == municipality.lower())
                                .order_by(Team.id)).first()
        if named is not None:
            return named
    teams = session.scalars(select(Team.id).limit(2)).all()
    return teams[0] if len(teams) == 1 else None


def teams_of(session: Session, user_id: str) -> list[str]:
    return list(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id)
                                .order_by(TeamMember.team_id)))


def add_member(session: Session, team_id: str, user_id: str) -> None:
    """Put a staff member in a team (idempotent)."""
    get_team(session, team_id)
    if session.get(TeamMember, (team_id, user_id)) is None:
        session.add(TeamMember(team_id=team_id, user_id=user_id))
        session.flush()


def remove_member(session: Session, team_id: str, user_id: str) -> None:
    member = session.get(TeamMember, (team_id, user_id))
    if member is not None:
        session.delete(member)
        session.flush()


def membership(session: Session, user: StaffUser) -> Membership:
    """The user's teams, the candidate groups they answer for and the teams they lead (as team lead)."""
    team_ids = set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))
    groups: set[str] = set()
    for row in session.scalars(select(TeamGroup).where(TeamGroup.team_id.in_(team_ids))):
        if row.role is None or row.role in user.roles:
            groups.add(row.group)
    leads = team_ids if Role.TEAM_LEAD in user.roles else set()
    return Membership(frozenset(team_ids), frozenset(groups), frozenset(leads))


def team_members(session: Session, team_ids: Iterable[str], active_only: bool = True) -> list[StaffUser]:
    """The people of these teams, by name (a team lead assigns work to them)."""
    query = (select(StaffUser).join(TeamMember, TeamMember.user_id == StaffUser.id)
             .where(TeamMember.team_id.in_(list(team_ids))).distinct().order_by(StaffUser.name))
    if active_only:
        query = query.where(StaffUser.active.is_(True))
    return list(session.scalars(query))


def group_members(session: Session, group: str, active_only: bool = True) -> list[StaffUser]:
    """Everyone who answers for a candidate group through a team (a group's task reaches these people)."""
    rows = session.execute(select(TeamGroup.team_id, TeamGroup.role).where(TeamGroup.group == group)).all()
    people: dict[str, StaffUser] = {}
    for team_id, role in rows:
        for user in team_members(session, [team_id], active_only):
            if role is None or role in user.roles:
                people[user.id] = user
    return sorted(people.values(), key=lambda u: u.name)
