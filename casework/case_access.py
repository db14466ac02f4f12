"""Who may open a case, and why: the rule every case page, case API route and case search asks.

A person may open a case through a relationship, and the access log records which one (`why`):

- the case's current **case manager**;
- a **member of the case's team** (`client_case.team_id`, or the current case manager's teams while the
  case has none), and the **team lead** of that team;
- someone a **task of the case** is assigned or offered to (a coordinator deciding on a new referral);
- a **network partner** (role partner) with a referral of the case addressed to their organisation and the
  client's valid consent to that partner: their part only (the partners' view), never the case page.

Everyone else is refused, and the attempt is logged too (`AccessAction.DENIED`). A manager without a
relationship sees aggregates (the managers' views), not the case.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from casework.access_log import AccessAction, log_access
from casework.case_manager import Assignment
from casework.client_case import ClientCase
from casework.consent import has_valid_consent
from casework.service_referral import ServiceReferral
from casework.staff import Staff
from casework.task_access import visible_clause
from casework.teams import TeamMember
from casework.users import Role
from engine.models import Task, TaskStatus


class Relationship(enum.Enum):
    """Why a person may open a case; the value is what the access log's `why` says."""

    CASE_MANAGER = "case manager of the case"
    TEAM_LEAD = "team lead of the case's team"
    TEAM_MEMBER = "member of the case's team"
    TASK = "a task of the case is assigned or offered to them"
    PARTNER = "network partner with a referral of the case and the client's consent"

    @property
    def whole_case(self) -> bool:
        """Everything but a partner sees the whole case page; a partner sees their referral only."""
        return self is not Relationship.PARTNER


@dataclass(frozen=True)
class CaseAccess:
    case_id: str
    client_id: str
    relationship: Relationship

    @property
    def why(self) -> str:
        return self.relationship.value


def case_teams(session: Session, record: ClientCase) -> set[str]:
    """The case's team, or while it has none, the teams of its current case manager."""
    if record.team_id is not None:
        return {record.team_id}
    manager = select(Assignment.user_id).where(Assignment.case_id == record.case_id, Assignment.to_at.is_(None))
    return set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id.in_(manager))))


def relationship(session: Session, staff: Staff, record: ClientCase, at: datetime) -> Relationship | None:
    """How `staff` stands to the case, the closest relationship first; None: they may not open it."""
    if staff.has(Role.PARTNER):
        return Relationship.PARTNER if partner_may_see(session, staff, record, at) else None
    manager = session.scalar(select(Assignment.user_id).where(Assignment.case_id == record.case_id,
                                                              Assignment.to_at.is_(None)))
    if manager == staff.id:
        return Relationship.CASE_MANAGER
    teams = case_teams(session, record)
    if staff.has(Role.TEAM_LEAD) and teams & staff.leads:
        return Relationship.TEAM_LEAD
    if teams & staff.teams:
        return Relationship.TEAM_MEMBER
    has_task = session.scalar(select(Task.id).where(Task.case_id == record.case_id, Task.status == TaskStatus.OPEN,
                                                    visible_clause(staff)).limit(1))
    return Relationship.TASK if has_task is not None else None


def partner_may_see(session: Session, staff: Staff, record: ClientCase, at: datetime) -> bool:
    """A partner account sees a case's referral addressed to its organisation while the client's consent holds."""
    if staff.partner_id is None:
        return False
    referred = session.scalar(select(ServiceReferral.plan_item_id).where(
        ServiceReferral.case_id == record.case_id, ServiceReferral.partner_id == staff.partner_id,
        ServiceReferral.referred_at.is_not(None)).limit(1))
    return referred is not None and has_valid_consent(session, record.client_id, staff.partner_id, at)


def case_access(session: Session, staff: Staff, case_id: str, at: datetime) -> CaseAccess | None:
    """The access `staff` has to the case, or None (no such case, or no relationship)."""
    record = session.get(ClientCase, case_id)
    if record is None:
        return None
    found = relationship(session, staff, record, at)
    return CaseAccess(case_id, record.client_id, found) if found is not None else None


def log_denied(session: Session, staff: Staff, case_id: str, what: str, at: datetime) -> None:
    """Record a refused attempt to open a case's data (the caller commits it before answering 403)."""
    record = session.get(ClientCase, case_id)
    if record is None:
        return
    log_access(session, user_id=staff.id, role=staff.logged_role(), client_id=record.client_id, case_id=case_id,
               action=AccessAction.DENIED, what=what, why="refused: no relationship to the case", at=at,
               user_name=staff.name)


def visible_cases_clause(staff: Staff) -> ColumnElement[bool]:
    """The cases `relationship` lets `staff` open as a whole, as one condition on ClientCase (for search).

    A partner's cases are not listed here: the partners' view lists their referrals.
    """
    if staff.has(Role.PARTNER) and not staff.has(Role.CASE_MANAGER, Role.COORDINATOR, Role.TEAM_LEAD):
        return false()
    current = and_(Assignment.case_id == ClientCase.case_id, Assignment.to_at.is_(None))
    mine = exists().where(current, Assignment.user_id == staff.id)
    teams = sorted(staff.teams)
    in_team = ClientCase.team_id.in_(teams) if teams else false()
    via_manager = (and_(ClientCase.team_id.is_(None), exists().where(
        current, Assignment.user_id.in_(select(TeamMember.user_id).where(TeamMember.team_id.in_(teams)))))
        if teams else false())
    task = exists().where(Task.case_id == ClientCase.case_id, Task.status == TaskStatus.OPEN, visible_clause(staff))
    return or_(mine, in_team, via_manager, task)
