"""The task list: the inbox's tabs, filters, sorting and pages, and Camunda's `GET /task` query.

One query builder serves the inbox page, its JSON and `/engine-rest/task`, so they always agree. Every
list is restricted by `casework.task_access` first; filters only narrow it. Rows carry what the inbox
shows (case number, client, case manager, dates), fetched in the same query: one round trip per page.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, false, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from casework.case_manager import Assignment
from casework.client import Client
from casework.client_case import ClientCase
from casework.identity_code import IdentityCodeKeys, validation_error
from casework.staff import Staff
from casework.teams import TeamGroup, TeamMember
from casework.users import Role, StaffUser
from engine.clock import aware
from engine.models import Case, CaseStatus, Task, TaskCandidate, TaskStatus


class Tab(enum.Enum):
    MINE = "mine"  # assigned to me, no follow-up date later than today
    GROUPS = "groups"  # unassigned, offered to me or my groups
    FOLLOW_UP = "follow_up"  # mine, waiting for a follow-up date after today
    ALL = "all"  # everything I may see (a team lead: the team's work)


class Sort(enum.Enum):
    NAME = "name"
    BUSINESS_KEY = "businessKey"
    CLIENT = "client"
    CASE_MANAGER = "caseManager"
    CREATED = "created"
    DUE = "due"
    FOLLOW_UP = "followUp"
    PRIORITY = "priority"
    ASSIGNEE = "assignee"
    STEP = "taskDefinitionKey"


@dataclass(frozen=True)
class TaskFilter:
    """Narrowing criteria; None means not filtered. Names follow Camunda's task query where it has one."""

    task_definition_key: str | None = None  # the step (BPMN element id)
    due_before: datetime | None = None
    follow_up_before: datetime | None = None
    overdue: bool = False
    business_key: str | None = None  # exact case number
    client: str | None = None  # an identity code (exact, via the search hash) or part of the client's name
    client_hash: str | None = None  # an identity code's search hash (the inbox keeps this, never the code)
    assignee: str | None = None
    candidate_user: str | None = None
    candidate_group: str | None = None
    unassigned: bool = False


@dataclass(frozen=True)
class Page:
    sort: Sort = Sort.DUE
    descending: bool = False
    offset: int = 0
    limit: int = 25


@dataclass(frozen=True)
class TaskRow:
    id: str
    name: str | None
    element_id: str
    case_id: str
    business_key: str | None
    process_key: str
    assignee: str | None
    assignee_name: str | None
    candidate_groups: tuple[str, ...]
    created_at: datetime
    due: datetime | None
    follow_up: datetime | None
    priority: int
    client_id: str | None
    client_name: str | None
    case_manager_id: str | None
    case_manager_name: str | None

    def overdue(self, now: datetime) -> bool:
        return self.due is not None and self.due < now

    @property
    def client_initials(self) -> str | None:
        """Initials of the client's name: the inbox's default, so a screen over a shoulder shows no names."""
        if not self.client_name:
            return None
        return "".join(part[0].upper() + "." for part in self.client_name.replace("-", " ").split() if part)


@dataclass(frozen=True)
class TaskListing:
    rows: list[TaskRow]
    total: int
    page: Page = field(default_factory=Page)


def end_of_day(now: datetime) -> datetime:
    """A follow-up date is a day: the task returns to "mine" at the start of that day (times are UTC)."""
    return datetime.combine(now.date(), time.max, tzinfo=now.tzinfo) if now.tzinfo else now


def _waiting(now: datetime) -> ColumnElement[bool]:
    return and_(Task.follow_up.is_not(None), Task.follow_up > end_of_day(now))


# The rules of casework.task_access in a form PostgreSQL answers from indexes: each part of "may see" is
# a set of task ids read from one index (task(status, assignee), task_candidate(kind, value, task_id)),
# so a tab costs what it holds, not a scan of every open task. tests/casework/test_task_list.py checks
# that the lists agree with task_access.may_see task by task.

def _candidate_ids(staff: Staff) -> Any:
    """Ids of tasks offered to me: candidate user, or a candidate group I answer for."""
    match = and_(TaskCandidate.kind == "user", TaskCandidate.value == staff.id)
    if staff.groups:
        match = or_(match, and_(TaskCandidate.kind == "group", TaskCandidate.value.in_(sorted(staff.groups))))
    return select(TaskCandidate.task_id).where(match)


def _leads(staff: Staff) -> list[str]:
    return sorted(staff.leads) if staff.leads and staff.has(Role.TEAM_LEAD) else []


def _team_clause(staff: Staff) -> ColumnElement[bool]:
    """The work of the teams I lead: offered to a group they answer for, or assigned to a member."""
    led = _leads(staff)
    if not led:
        return false()
    team_groups = select(TeamGroup.group).where(TeamGroup.team_id.in_(led))
    team_people = select(TeamMember.user_id).where(TeamMember.team_id.in_(led))
    return or_(Task.id.in_(select(TaskCandidate.task_id).where(TaskCandidate.kind == "group",
                                                               TaskCandidate.value.in_(team_groups))),
               Task.assignee.in_(team_people))


def tab_clause(staff: Staff, tab: Tab, now: datetime) -> ColumnElement[bool]:
    """The tab's rule (on top of "open and its case active"): task_access's rules, tab by tab."""
    mine = Task.assignee == staff.id
    if tab is Tab.MINE:
        return and_(mine, ~_waiting(now))
    if tab is Tab.FOLLOW_UP:
        return and_(mine, _waiting(now))
    offered = and_(Task.assignee.is_(None), Task.id.in_(_candidate_ids(staff)))
    if tab is Tab.GROUPS:
        return offered
    return or_(mine, offered, _team_clause(staff))


def _live() -> list[ColumnElement[bool]]:
    """Open, and its case not suspended (a completed or cancelled case has no open task: the engine
    closes them in the same transaction), so the list needs no scan of the case table."""
    return [Task.status == TaskStatus.OPEN,
            Task.case_id.not_in(select(Case.id).where(Case.status == CaseStatus.SUSPENDED))]


def _filters(query: Any, filt: TaskFilter, now: datetime, keys: IdentityCodeKeys | None) -> Any:
    if filt.task_definition_key:
        query = query.where(Task.element_id == filt.task_definition_key)
    if filt.due_before is not None:
        query = query.where(Task.due < filt.due_before)
    if filt.follow_up_before is not None:
        query = query.where(Task.follow_up < filt.follow_up_before)
    if filt.overdue:
        query = query.where(Task.due < now)
    if filt.business_key:
        query = query.where(Task.case_id.in_(select(Case.id).where(Case.business_key == filt.business_key)))
    if filt.assignee:
        query = query.where(Task.assignee == filt.assignee)
    if filt.unassigned:
        query = query.where(Task.assignee.is_(None))
    for kind, value in (("user", filt.candidate_user), ("group", filt.candidate_group)):
        if value:
            query = query.where(Task.id.in_(select(TaskCandidate.task_id).where(TaskCandidate.kind == kind,
                                                                                TaskCandidate.value == value)))
    match = client_match(filt, keys)
    if match is not None:
        query = query.where(Task.case_id.in_(select(ClientCase.case_id).join(Client, Client.id == ClientCase.client_id)
                                             .where(match)))
    return query


def client_match(filt: TaskFilter, keys: IdentityCodeKeys | None) -> ColumnElement[bool] | None:
    """The client search: a precomputed identity-code hash, an identity code (exact, by its keyed hash;
    never the code itself in SQL), or else part of the client's name (case-insensitive)."""
    if filt.client_hash:
        return Client.identity_code_hash == filt.client_hash
    text = (filt.client or "").strip()
    if not text:
        return None
    if validation_error(text) is None:
        if keys is None:
            return false()  # a code cannot be searched without the key; never fall back to the plain text
        return Client.identity_code_hash == keys.search_hash(text)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return Client.name.ilike(pattern, escape="\\")


def filtered(filt: TaskFilter) -> bool:
    """Whether the filter narrows anything (else a tab's count is the list's total)."""
    return filt != TaskFilter()


def count(session: Session, staff: Staff, tab: Tab, now: datetime, filt: TaskFilter = TaskFilter(),
          keys: IdentityCodeKeys | None = None) -> int:
    query = select(func.count()).select_from(Task).where(*_live(), tab_clause(staff, tab, now))
    return int(session.scalar(_filters(query, filt, now, keys)) or 0)


# -- name: tab-counts --
# The count on each of the tabs mine, my groups and follow-up, in one statement of three index-driven counts:
# task(status, assignee, due, follow_up, case_id, id) answers "mine" and "follow-up" alone, task_candidate
# (kind, value, task_id) and the same task index "my groups". Written as SQL, not built per request: the
# inbox asks it on every page and refresh. Kept equal to tab_clause() by tests/casework/test_task_list.py.
_LIVE_SQL = "t.status = 'open' AND t.case_id NOT IN (SELECT id FROM \"case\" WHERE status = 'suspended')"
_TAB_COUNTS = text(f"""
SELECT
  (SELECT count(*) FROM task t WHERE {_LIVE_SQL} AND t.assignee = :me
     AND (t.follow_up IS NULL OR t.follow_up <= :end_of_day)) AS mine,
  (SELECT count(*) FROM task t WHERE {_LIVE_SQL} AND t.assignee IS NULL
     AND t.id IN (SELECT c.task_id FROM task_candidate c
                  WHERE (c.kind = 'user' AND c.value = :me) OR (c.kind = 'group' AND c.value IN :groups))) AS groups,
  (SELECT count(*) FROM task t WHERE {_LIVE_SQL} AND t.assignee = :me
     AND t.follow_up IS NOT NULL AND t.follow_up > :end_of_day) AS follow_up
""").bindparams(bindparam("groups", expanding=True), bindparam("end_of_day", type_=Task.follow_up.type))


def tab_counts(session: Session, staff: Staff, now: datetime) -> dict[Tab, int]:
    """The count on each tab (unfiltered). Without teams to lead, "all" is exactly mine + follow-up + my
    groups (disjoint), so only a team lead's "all" is counted by a query of its own."""
    row = session.execute(_TAB_COUNTS, {"me": staff.id, "groups": sorted(staff.groups) or [""],
                                        "end_of_day": end_of_day(now)}).one()
    result = {Tab.MINE: int(row.mine), Tab.GROUPS: int(row.groups), Tab.FOLLOW_UP: int(row.follow_up)}
    if _leads(staff):
        result[Tab.ALL] = count(session, staff, Tab.ALL, now)
    else:
        result[Tab.ALL] = result[Tab.MINE] + result[Tab.GROUPS] + result[Tab.FOLLOW_UP]
    return {tab: result[tab] for tab in Tab}


_manager = aliased(Assignment)
_assignee_user = aliased(StaffUser)
_SORT_JOINS: dict[Sort, Any] = {  # what the ids query must join to sort by the column
    Sort.BUSINESS_KEY: lambda q: q.join(Case, Case.id == Task.case_id),
    Sort.CLIENT: lambda q: q.outerjoin(ClientCase, ClientCase.case_id == Task.case_id)
    .outerjoin(Client, Client.id == ClientCase.client_id),
    Sort.CASE_MANAGER: lambda q: q.outerjoin(_manager, and_(_manager.case_id == Task.case_id,
                                                            _manager.to_at.is_(None))),
    Sort.ASSIGNEE: lambda q: q.outerjoin(_assignee_user, _assignee_user.id == Task.assignee),
}


def _order(sort: Sort) -> Any:
    return {
        Sort.NAME: Task.name, Sort.BUSINESS_KEY: Case.business_key, Sort.CLIENT: Client.name,
        Sort.CASE_MANAGER: _manager.user_name, Sort.CREATED: Task.created_at, Sort.DUE: Task.due,
        Sort.FOLLOW_UP: Task.follow_up, Sort.PRIORITY: Task.priority, Sort.ASSIGNEE: _assignee_user.name,
        Sort.STEP: Task.element_id,
    }[sort]


def listing(session: Session, staff: Staff, tab: Tab, now: datetime, filt: TaskFilter = TaskFilter(),
            page: Page = Page(), keys: IdentityCodeKeys | None = None, total: int | None = None) -> TaskListing:
    """One page of the tab's tasks, filtered and sorted (empty values last either way; ties by task id).

    Two steps in one statement: the page's task ids are chosen from the narrow columns the sort needs
    (indexes, no wide rows), then only those rows are joined to their case, client and case manager.
    `total`: the caller already knows the count (the tab's count when nothing is filtered), saving a query.
    """
    from engine.models import Definition

    page = replace(page, offset=max(0, page.offset), limit=max(1, min(page.limit, 1000)))
    if total is None:
        total = count(session, staff, tab, now, filt, keys)
    order = _order(page.sort)
    ids: Any = select(Task.id.label("id"), order.label("sort_key"))
    ids = _SORT_JOINS.get(page.sort, lambda q: q)(ids)
    ids = _filters(ids.where(*_live(), tab_clause(staff, tab, now)), filt, now, keys)
    direction = (order.desc() if page.descending else order.asc()).nulls_last()
    chosen = ids.order_by(direction, Task.id).offset(page.offset).limit(page.limit).subquery("chosen")
    key = chosen.c.sort_key
    query: Any = (select(Task.id, Task.name, Task.element_id, Task.case_id, Case.business_key, Definition.key,
                         Task.assignee, _assignee_user.name, Task.candidate_groups, Task.created_at, Task.due,
                         Task.follow_up, Task.priority, ClientCase.client_id, Client.name, _manager.user_id,
                         _manager.user_name)
                  .join(chosen, chosen.c.id == Task.id)
                  .join(Case, Case.id == Task.case_id)
                  .join(Definition, Definition.id == Case.definition_id)
                  .outerjoin(ClientCase, ClientCase.case_id == Task.case_id)
                  .outerjoin(Client, Client.id == ClientCase.client_id)
                  .outerjoin(_manager, and_(_manager.case_id == Task.case_id, _manager.to_at.is_(None)))
                  .outerjoin(_assignee_user, _assignee_user.id == Task.assignee)
                  .order_by((key.desc() if page.descending else key.asc()).nulls_last(), Task.id))
    rows = [TaskRow(id=r[0], name=r[1], element_id=r[2], case_id=r[3], business_key=r[4], process_key=r[5],
                    assignee=r[6], assignee_name=r[7], candidate_groups=tuple(r[8] or ()), created_at=aware(r[9]),
                    due=aware(r[10]), follow_up=aware(r[11]), priority=r[12], client_id=r[13], client_name=r[14],
                    case_manager_id=r[15], case_manager_name=r[16])
            for r in session.execute(query)]
    return TaskListing(rows, total, page)


def client_ids(rows: Sequence[TaskRow]) -> list[str]:
    """The clients a page shows (for its one access-log entry)."""
    return sorted({r.client_id for r in rows if r.client_id})

