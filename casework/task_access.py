"""Who may see and do which task: the rule every inbox, task page and API route asks.

A task is *mine* when I am its assignee. An unassigned task is *offered to me* when I am one of its
candidate users or answer for one of its candidate groups through a team (`casework.teams`); its
candidates may still open it after a colleague claims it (read-only: they see who has it, and a
page they had open says "claimed by" instead of "forbidden"), but the inbox lists it only as the
assignee's. A team
lead also sees the team's work: tasks offered to a group their team answers for, and tasks assigned to
the team's members, and may assign those to a person of the team. Nobody else sees a task: its page
and its data are client data.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from casework.staff import Staff
from casework.teams import TeamGroup, TeamMember
from casework.users import Role
from engine.models import Task, TaskCandidate


@dataclass(frozen=True)
class TaskPeople:
    """What the rule needs to know of one task."""

    assignee: str | None
    candidate_users: frozenset[str]
    candidate_groups: frozenset[str]

    @classmethod
    def of(cls, task: Task) -> TaskPeople:
        return cls(task.assignee, frozenset(task.candidate_users or ()), frozenset(task.candidate_groups or ()))


def is_candidate(staff: Staff, task: TaskPeople) -> bool:
    return staff.id in task.candidate_users or bool(staff.groups & task.candidate_groups)


def leads_task(session: Session, staff: Staff, task: TaskPeople) -> bool:
    """A team lead of a team that answers for one of the task's groups or has its assignee as a member."""
    if not staff.leads or not staff.has(Role.TEAM_LEAD):
        return False
    if task.candidate_groups and session.scalar(select(TeamGroup.team_id).where(
            TeamGroup.team_id.in_(staff.leads), TeamGroup.group.in_(task.candidate_groups)).limit(1)) is not None:
        return True
    return task.assignee is not None and session.scalar(select(TeamMember.team_id).where(
        TeamMember.team_id.in_(staff.leads), TeamMember.user_id == task.assignee).limit(1)) is not None


def may_see(session: Session, staff: Staff, task: TaskPeople) -> bool:
    return task.assignee == staff.id or is_candidate(staff, task) or leads_task(session, staff, task)


def may_claim(staff: Staff, task: TaskPeople) -> bool:
    """Claim: an unassigned task offered to me (a team lead assigns instead of claiming others' work)."""
    return task.assignee is None and is_candidate(staff, task)


def may_work(staff: Staff, task: TaskPeople) -> bool:
    """Fill in, save a draft and complete: only the assignee (claim first), as in Camunda Tasklist."""
    return task.assignee == staff.id


def may_assign(session: Session, staff: Staff, task: TaskPeople) -> bool:
    """Assign to someone else (with a reason): a team lead of the task's team."""
    return leads_task(session, staff, task)


def may_unclaim(session: Session, staff: Staff, task: TaskPeople) -> bool:
    return task.assignee is not None and (task.assignee == staff.id or leads_task(session, staff, task))


# -- the same rules as SQL conditions on engine.models.Task, for lists ------------------------------------

def mine_clause(staff: Staff) -> ColumnElement[bool]:
    return Task.assignee == staff.id


def offered_clause(staff: Staff) -> ColumnElement[bool]:
    """Unassigned and offered to me (candidate user, or a candidate group I answer for)."""
    candidate = or_(and_(TaskCandidate.kind == "user", TaskCandidate.value == staff.id),
                    and_(TaskCandidate.kind == "group", TaskCandidate.value.in_(sorted(staff.groups)))
                    if staff.groups else false())
    return and_(Task.assignee.is_(None), exists().where(TaskCandidate.task_id == Task.id, candidate))


def team_clause(staff: Staff) -> ColumnElement[bool]:
    """The work of the teams I lead: offered to their groups, or assigned to their members."""
    if not staff.leads or not staff.has(Role.TEAM_LEAD):
        return false()
    led = sorted(staff.leads)
    team_groups = select(TeamGroup.group).where(TeamGroup.team_id.in_(led))
    team_people = select(TeamMember.user_id).where(TeamMember.team_id.in_(led))
    return or_(exists().where(TaskCandidate.task_id == Task.id, TaskCandidate.kind == "group",
                              TaskCandidate.value.in_(team_groups)),
               Task.assignee.in_(team_people))


def visible_clause(staff: Staff) -> ColumnElement[bool]:
    """Every task `may_see` allows, as one condition."""
    return or_(mine_clause(staff), offered_clause(staff), team_clause(staff))
