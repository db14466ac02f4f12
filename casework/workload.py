"""Who carries how much (`/manage/workload`): per case manager and per team, and rebalancing by team leads.

Counted now, from the current state, never from the history:
- active cases: open cases whose current assignment (`to_at IS NULL`) names the person;
- open tasks: open engine tasks assigned to the person (claimed or assigned by the process), and of those the
  overdue ones (due date passed);
- cases per follow-up interval: the `follow_up_months` of each active case's current plan (its newest version;
  `None` while the case has no plan yet).

A team's row counts the cases of the team (`client_case.team_id`) and the tasks of those cases. Staff names are
shown (staff, not clients); case numbers only in the rebalancing list, which the caller access-logs.

Rebalancing: a team lead chooses cases of one case manager and starts the case manager change flow for each
(`casework.case_actions.request_case_manager_change`, the same as the case page's button), one result per case.
Only the team lead of the case's team may: anyone else gets the case refused (and the attempt logged).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from casework.access_log import AccessAction, log_case_access
from casework.case_access import case_teams, log_denied
from casework.case_actions import CHANGE_REASONS, CHANGE_TASKS, ActionConflict, request_case_manager_change
from casework.case_manager import Assignment, AssignmentReason
from casework.client_case import CaseStatus, ClientCase
from casework.errors import Refused
from casework.plan import PlanVersion
from casework.staff import Staff
from casework.stalls import EVERYTHING, Scope
from casework.teams import Team, TeamMember
from casework.users import CASE_MANAGER_ROLES, Role, StaffRole, StaffUser
from engine.models import Case, Task, TaskStatus

if TYPE_CHECKING:
    from engine.runtime import Engine

STANDARD_INTERVALS = (1, 3, 6, 12)  # the follow-up intervals a plan offers; others appear when used
NO_PLAN = 0  # the interval column of active cases without a plan yet
MAX_REBALANCE = 200  # cases in one rebalancing request
WHY = "management: a team lead rebalancing case managers' workload"


@dataclass
class Load:
    """One case manager's or one team's figures."""

    key: str  # the user id, or the team id ("" for cases without a team)
    name: str
    active_cases: int = 0
    open_tasks: int = 0
    overdue_tasks: int = 0
    by_interval: dict[int, int] = field(default_factory=dict)  # follow-up months (NO_PLAN: none) -> cases


@dataclass(frozen=True)
class Workload:
    intervals: list[int]  # the interval columns, NO_PLAN last if any case lacks a plan
    people: list[Load]  # the most active cases first
    teams: list[Load]


def _scoped(query: Any, scope: Scope) -> Any:
    return query.where(*scope.conditions()) if scope.conditions() else query


def _current_plans() -> Any:
    newest = (select(PlanVersion.case_id, func.max(PlanVersion.version).label("version"))
              .group_by(PlanVersion.case_id).subquery())
    return (select(PlanVersion.case_id, PlanVersion.follow_up_months)
            .join(newest, and_(newest.c.case_id == PlanVersion.case_id, newest.c.version == PlanVersion.version))
            .subquery())


def _active() -> list[ColumnElement[bool]]:
    return [ClientCase.status == CaseStatus.OPEN, Assignment.to_at.is_(None)]


def _task_counts(session: Session, scope: Scope, now: datetime, by: Any) -> list[Any]:
    """(group, open, overdue) of open assigned tasks; `by` is Task.assignee or ClientCase.team_id."""
    overdue = func.sum(case((and_(Task.due.is_not(None), Task.due < now), 1), else_=0))
    query = select(by, func.count(), overdue).where(Task.status == TaskStatus.OPEN, Task.assignee.is_not(None))
    if scope.needs_client_case or by is not Task.assignee:
        query = _scoped(query.join(ClientCase, ClientCase.case_id == Task.case_id), scope)
    return list(session.execute(query.group_by(by)).all())


def workload(session: Session, scope: Scope, now: datetime) -> Workload:
    """Per case manager and per team, within `scope` (teams, municipality)."""
    people: dict[str, Load] = {}
    teams: dict[str, Load] = {}
    intervals: set[int] = set(STANDARD_INTERVALS)
    plans = _current_plans()
    for user_id, team_id, months, count in session.execute(_scoped(
            select(Assignment.user_id, ClientCase.team_id, plans.c.follow_up_months, func.count())
            .join(ClientCase, ClientCase.case_id == Assignment.case_id)
            .outerjoin(plans, plans.c.case_id == Assignment.case_id)
            .where(*_active()), scope)
            .group_by(Assignment.user_id, ClientCase.team_id, plans.c.follow_up_months)).all():
        interval = int(months) if months is not None else NO_PLAN
        intervals.add(interval)
        for target, key in ((people, user_id), (teams, team_id or "")):
            load = target.setdefault(key, Load(key, ""))
            load.active_cases += int(count)
            load.by_interval[interval] = load.by_interval.get(interval, 0) + int(count)
    for target, by in ((people, Task.assignee), (teams, ClientCase.team_id)):
        for key, count, overdue in _task_counts(session, scope, now, by):
            load = target.setdefault(key or "", Load(key or "", ""))
            load.open_tasks, load.overdue_tasks = int(count), int(overdue or 0)
    # the team's case managers with nothing yet: whom cases could go to
    members = (select(TeamMember.user_id).join(StaffRole, StaffRole.user_id == TeamMember.user_id)
               .join(StaffUser, StaffUser.id == TeamMember.user_id)
               .where(StaffRole.role.in_(sorted(CASE_MANAGER_ROLES, key=lambda r: r.value)), StaffUser.active))
    if scope.team_ids is not None:
        members = members.where(TeamMember.team_id.in_(sorted(scope.team_ids)))
        for team_id in scope.team_ids:
            teams.setdefault(team_id, Load(team_id, ""))
    for user_id in session.scalars(members.distinct()):
        people.setdefault(user_id, Load(user_id, ""))
    names = dict(session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(sorted(people)))).all())
    for load in people.values():
        load.name = names.get(load.key, load.key)
    team_names = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(sorted(teams)))).all())
    for load in teams.values():
        load.name = team_names.get(load.key, "")
    columns = sorted(i for i in intervals if i != NO_PLAN) + ([NO_PLAN] if NO_PLAN in intervals else [])
    return Workload(columns, sorted(people.values(), key=lambda p: (-p.active_cases, -p.open_tasks, p.name)),
                    sorted(teams.values(), key=lambda t: (t.key == "", t.name, t.key)))


@dataclass(frozen=True)
class CaseRef:
    case_id: str
    business_key: str
    follow_up_months: int | None
    changing: bool = False  # a change of case manager is already under way (requested, or its tasks open)


def cases_of(session: Session, user_id: str, scope: Scope = EVERYTHING) -> list[CaseRef]:
    """The active cases of one case manager within `scope`, by case number (the caller logs the access)."""
    plans = _current_plans()
    change_open = (select(Task.id).where(Task.case_id == ClientCase.case_id, Task.status == TaskStatus.OPEN,
                                         Task.element_id.in_(sorted(CHANGE_TASKS))).exists())
    changing = or_(ClientCase.change_requested_at.is_not(None), change_open)
    rows = session.execute(_scoped(
        select(ClientCase.case_id, Case.business_key, plans.c.follow_up_months, changing)
        .join(Assignment, Assignment.case_id == ClientCase.case_id)
        .join(Case, Case.id == ClientCase.case_id)
        .outerjoin(plans, plans.c.case_id == ClientCase.case_id)
        .where(Assignment.user_id == user_id, *_active()), scope)
        .order_by(Case.business_key, ClientCase.case_id)).all()
    return [CaseRef(case_id, business_key or case_id, months, bool(under_way))
            for case_id, business_key, months, under_way in rows]


def may_rebalance(staff: Staff) -> bool:
    """Team leads rebalance (each case only of a team they lead); a manager without it sees the figures."""
    return staff.has(Role.TEAM_LEAD) and bool(staff.leads)


class Outcome(enum.Enum):
    STARTED = "started"
    CONFLICT = "conflict"  # e.g. a change already under way, or no case manager to change
    REFUSED = "refused"  # not a case of a team the person leads, or no such case


@dataclass(frozen=True)
class Result:
    business_key: str
    outcome: Outcome
    detail: str = ""  # the conflict's reason (English, as casework says it; the page translates known ones)


def rebalance(engine: Engine, staff: Staff, business_keys: list[str], reason: AssignmentReason, note: str
              ) -> list[Result]:
    """Starts the case manager change flow for each chosen case the team lead may change; one result per case
    in the order given. The permitted cases are access-logged at once (one INSERT), refused ones one by one."""
    if reason not in CHANGE_REASONS:
        raise Refused(f"a change is not requested for the reason {reason.value}")
    keys = list(dict.fromkeys(k.strip() for k in business_keys if k and k.strip()))[:MAX_REBALANCE]
    now = engine.clock()
    permitted: dict[str, str] = {}
    results: dict[str, Result] = {}
    with engine.db.transaction() as session:
        found = {key: (case_id, record) for key, case_id, record in session.execute(
            select(Case.business_key, Case.id, ClientCase).join(ClientCase, ClientCase.case_id == Case.id)
            .where(Case.business_key.in_(keys))).all()}
        for key in keys:
            if key not in found:
                results[key] = Result(key, Outcome.REFUSED, "no such case")
                continue
            case_id, record = found[key]
            if staff.has(Role.TEAM_LEAD) and case_teams(session, record) & staff.leads:
                permitted[key] = case_id
            else:
                log_denied(session, staff, case_id, "case manager change from the workload view", now)
                results[key] = Result(key, Outcome.REFUSED, "not a case of a team you lead")
        log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=list(permitted.values()),
                        what="case manager change requested from the workload view", why=WHY, at=now,
                        action=AccessAction.UPDATE)
    for key, case_id in permitted.items():
        try:
            request_case_manager_change(engine, case_id, reason, note, staff.id)
        except (ActionConflict, Refused) as err:
            results[key] = Result(key, Outcome.CONFLICT, str(err))
        else:
            results[key] = Result(key, Outcome.STARTED)
    return [results[key] for key in keys]
