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

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from casework.case_manager import Assignment
from casework.client import Client
from casework.client_case import ClientCase
from casework.identity_code import IdentityCodeKeys, validation_error
from casework.staff import Staff
from casework.task_access import mine_clause, offered_clause, visible_clause
from casework.users import StaffUser
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


def tab_clause(staff: Staff, tab: Tab, now: datetime) -> ColumnElement[bool]:
    waiting = and_(Task.follow_up.is_not(None), Task.follow_up > end_of_day(now))
    if tab is Tab.MINE:
        return and_(mine_clause(staff), ~waiting)
    if tab is Tab.FOLLOW_UP:
        return and_(mine_clause(staff), waiting)
    if tab is Tab.GROUPS:
        return offered_clause(staff)
    return visible_clause(staff)


_manager = aliased(Assignment)
_manager_user = aliased(StaffUser)
_assignee_user = aliased(StaffUser)


def _base(staff: Staff, tab: Tab, now: datetime) -> Any:
    return (select(func.count()).select_from(Task).join(Case, Case.id == Task.case_id)
            .where(Task.status == TaskStatus.OPEN, Case.status == CaseStatus.ACTIVE, tab_clause(staff, tab, now)))


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
        query = query.where(Case.business_key == filt.business_key)
    if filt.assignee:
        query = query.where(Task.assignee == filt.assignee)
    if filt.unassigned:
        query = query.where(Task.assignee.is_(None))
    for kind, value in (("user", filt.candidate_user), ("group", filt.candidate_group)):
        if value:
            query = query.where(exists().where(TaskCandidate.task_id == Task.id, TaskCandidate.kind == kind,
                                               TaskCandidate.value == value))
    if filt.client:
        text = filt.client.strip()
        if keys is not None and validation_error(text) is None:
            match: ColumnElement[bool] = Client.identity_code_hash == keys.search_hash(text)
        else:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            match = Client.name.ilike(pattern, escape="\\")
        query = query.where(exists().where(ClientCase.case_id == Task.case_id, ClientCase.client_id == Client.id,
                                           match))
    return query


def count(session: Session, staff: Staff, tab: Tab, now: datetime, filt: TaskFilter = TaskFilter(),
          keys: IdentityCodeKeys | None = None) -> int:
    return int(session.scalar(_filters(_base(staff, tab, now), filt, now, keys)) or 0)


def tab_counts(session: Session, staff: Staff, now: datetime) -> dict[Tab, int]:
    """The count on each tab (unfiltered), in one query."""
    counts = [func.count().filter(tab_clause(staff, tab, now)) for tab in Tab]
    row = session.execute(select(*counts).select_from(Task).join(Case, Case.id == Task.case_id)
                          .where(Task.status == TaskStatus.OPEN, Case.status == CaseStatus.ACTIVE,
                                 visible_clause(staff))).one()
    return {tab: int(n or 0) for tab, n in zip(Tab, row, strict=True)}


def _order(sort: Sort) -> Any:
    return {
        Sort.NAME: Task.name, Sort.BUSINESS_KEY: Case.business_key, Sort.CLIENT: Client.name,
        Sort.CASE_MANAGER: _manager.user_name, Sort.CREATED: Task.created_at, Sort.DUE: Task.due,
        Sort.FOLLOW_UP: Task.follow_up, Sort.PRIORITY: Task.priority, Sort.ASSIGNEE: Task.assignee,
        Sort.STEP: Task.element_id,
    }[sort]


def listing(session: Session, staff: Staff, tab: Tab, now: datetime, filt: TaskFilter = TaskFilter(),
            page: Page = Page(), keys: IdentityCodeKeys | None = None) -> TaskListing:
    """One page of the tab's tasks, filtered and sorted (empty values last either way; ties by task id)."""
    from engine.models import Definition

    page = replace(page, offset=max(0, page.offset), limit=max(1, min(page.limit, 1000)))
    total = count(session, staff, tab, now, filt, keys)
    order = _order(page.sort)
    query: Any = (select(Task, Case.business_key, Definition.key, ClientCase.client_id, Client.name, _manager.user_id,
                    _manager.user_name, _assignee_user.name)
             .join(Case, Case.id == Task.case_id)
             .join(Definition, Definition.id == Case.definition_id)
             .outerjoin(ClientCase, ClientCase.case_id == Task.case_id)
             .outerjoin(Client, Client.id == ClientCase.client_id)
             .outerjoin(_manager, and_(_manager.case_id == Task.case_id, _manager.to_at.is_(None)))
             .outerjoin(_assignee_user, _assignee_user.id == Task.assignee)
             .where(Task.status == TaskStatus.OPEN, Case.status == CaseStatus.ACTIVE, tab_clause(staff, tab, now)))
    query = _filters(query, filt, now, keys)
    query = query.order_by(order.is_(None), order.desc() if page.descending else order.asc(), Task.id)
    rows = [TaskRow(id=t.id, name=t.name, element_id=t.element_id, case_id=t.case_id, business_key=bk,
                    process_key=key, assignee=t.assignee, assignee_name=assignee_name,
                    candidate_groups=tuple(t.candidate_groups or ()), created_at=t.created_at, due=t.due,
                    follow_up=t.follow_up, priority=t.priority, client_id=client_id, client_name=client_name,
                    case_manager_id=manager_id, case_manager_name=manager_name)
            for t, bk, key, client_id, client_name, manager_id, manager_name, assignee_name
            in session.execute(query.offset(page.offset).limit(page.limit))]
    return TaskListing(rows, total, page)


def client_ids(rows: Sequence[TaskRow]) -> list[str]:
    """The clients a page shows (for its one access-log entry)."""
    return sorted({r.client_id for r in rows if r.client_id})

