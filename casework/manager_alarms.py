"""The alarms of the management view (`/manage`): each a count and the list of cases to act on.

The loudest two are the ways the case manager invariant breaks (an active case past the decision with no
current case manager; a case whose case manager was deactivated), as casework.staffing defines them; then a
client not told of their case manager within POLKU_INFORM_CLIENT_DAYS, a case without activity for
IDLE_CASE_DAYS, a follow-up review past due, a partner referral unanswered past its start date and an open
incident. Each is one SQL statement over indexed tables (no per-case Python), so the page stays fast at county
scale; `scope` (casework.stalls.Scope) limits them to teams and a municipality.

An alarm lists one item per thing to fix (one per incident, one per unanswered referral...), each naming its
case; the count is the number of items.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from casework.case_manager import Assignment
from casework.client_case import CaseStatus, ClientCase
from casework.finnish_time import finnish_day
from casework.plan import PlanItem
from casework.service_referral import ServiceReferral, ServiceStatus
from casework.staffing import INFORM_WITHIN, Severity
from casework.stalls import EVERYTHING, Scope
from casework.users import StaffUser
from engine.clock import aware
from engine.models import Case, Incident, Task, TaskStatus, Timer

IDLE_AFTER = timedelta(days=30)  # the default of POLKU_IDLE_CASE_DAYS (app config IDLE_CASE_DAYS)
# bpmn/work-ability-support.bpmn: the follow-up meeting (a user task with a due date) and the timer that opens it
FOLLOW_UP_TASKS = ("follow_up_review",)
FOLLOW_UP_TIMERS = ("follow_up_due",)
TIMER_GRACE = timedelta(hours=1)  # a timer this long past due has not fired: the scheduler or the case is stuck


class AlarmKind(enum.Enum):
    NO_CASE_MANAGER = "no_case_manager"
    DEACTIVATED_CASE_MANAGER = "deactivated_case_manager"
    CLIENT_NOT_INFORMED = "client_not_informed"
    IDLE = "idle"
    FOLLOW_UP_OVERDUE = "follow_up_overdue"
    REFERRAL_UNANSWERED = "referral_unanswered"
    INCIDENT = "incident"


SEVERITY: dict[AlarmKind, Severity] = {
    AlarmKind.NO_CASE_MANAGER: Severity.CRITICAL,
    AlarmKind.DEACTIVATED_CASE_MANAGER: Severity.CRITICAL,
    AlarmKind.CLIENT_NOT_INFORMED: Severity.WARNING,
    AlarmKind.IDLE: Severity.WARNING,
    AlarmKind.FOLLOW_UP_OVERDUE: Severity.HIGH,
    AlarmKind.REFERRAL_UNANSWERED: Severity.HIGH,
    AlarmKind.INCIDENT: Severity.HIGH,
}


@dataclass(frozen=True)
class AlarmSettings:
    inform_within: timedelta = INFORM_WITHIN
    idle_after: timedelta = IDLE_AFTER

    @classmethod
    def from_config(cls, config: Any) -> AlarmSettings:
        """From the web app's config: INFORM_CLIENT_DAYS and IDLE_CASE_DAYS (days; the defaults above)."""
        inform = config.get("INFORM_CLIENT_DAYS") or INFORM_WITHIN.days
        idle = config.get("IDLE_CASE_DAYS") or IDLE_AFTER.days
        return cls(timedelta(days=int(inform)), timedelta(days=int(idle)))


@dataclass(frozen=True)
class AlarmItem:
    """One thing to fix: its case (number), since when it stands, and what (an element id, a date...)."""

    case_id: str
    business_key: str | None
    since: datetime
    detail: str | None = None


@dataclass(frozen=True)
class Alarm:
    kind: AlarmKind
    severity: Severity
    items: list[AlarmItem]

    @property
    def count(self) -> int:
        return len(self.items)


def _scoped(query: Any, scope: Scope) -> Any:
    """Open client cases in scope (the query selects from ClientCase), with their engine case for the number."""
    return (query.join(Case, Case.id == ClientCase.case_id)
            .where(ClientCase.status == CaseStatus.OPEN, *scope.conditions()))


def _item(case_id: str, business_key: str | None, since: Any, detail: str | None = None) -> AlarmItem:
    at = aware(since)
    assert at is not None
    return AlarmItem(case_id, business_key, at, detail)


def _no_case_manager(session: Session, now: datetime, scope: Scope, settings: AlarmSettings) -> list[AlarmItem]:
    """As casework.case_manager.cases_without_case_manager: decided to need one, none current."""
    has_current = exists().where(Assignment.case_id == ClientCase.case_id, Assignment.to_at.is_(None))
    last_end = (select(func.max(Assignment.to_at)).where(Assignment.case_id == ClientCase.case_id)
                .correlate(ClientCase).scalar_subquery())
    since = func.coalesce(last_end, ClientCase.decided_at, ClientCase.opened_at)
    query = _scoped(select(ClientCase.case_id, Case.business_key, since), scope).where(
        ClientCase.needs_case_manager.is_(True), ~has_current)
    return [_item(*row) for row in session.execute(query).all()]


def _deactivated(session: Session, now: datetime, scope: Scope, settings: AlarmSettings) -> list[AlarmItem]:
    query = _scoped(select(ClientCase.case_id, Case.business_key,
                           func.coalesce(StaffUser.deactivated_at, Assignment.from_at)), scope).join(
        Assignment, and_(Assignment.case_id == ClientCase.case_id, Assignment.to_at.is_(None))).join(
        StaffUser, StaffUser.id == Assignment.user_id).where(StaffUser.active.is_(False))
    return [_item(*row) for row in session.execute(query).all()]


def _not_informed(session: Session, now: datetime, scope: Scope, settings: AlarmSettings) -> list[AlarmItem]:
    query = _scoped(select(ClientCase.case_id, Case.business_key, Assignment.from_at), scope).join(
        Assignment, and_(Assignment.case_id == ClientCase.case_id, Assignment.to_at.is_(None))).where(
        Assignment.client_informed_at.is_(None), Assignment.from_at < now - settings.inform_within)
    return [_item(*row) for row in session.execute(query).all()]


def _idle(session: Session, now: datetime, scope: Scope, settings: AlarmSettings) -> list[AlarmItem]:
    """No step of the case's process has moved (the engine case unchanged) for `idle_after`."""
    query = _scoped(select(ClientCase.case_id, Case.business_key, Case.updated_at), scope).where(
        Case.updated_at < now - settings.idle_after)
    return [_item(*row) for row in session.execute(query).all()]


def _follow_up_overdue(session: Session, now: datetime, scope: Scope, settings: AlarmSettings) -> list[AlarmItem]:
    """The follow-up meeting task past its due date, or the timer that should have opened it not fired."""
    tasks = _scoped(select(ClientCase.case_id, Case.business_key, Task.due, Task.element_id), scope).join(
        Task, Task.case_id == ClientCase.case_id).where(
        Task.status == TaskStatus.OPEN, Task.element_id.in_(FOLLOW_UP_TASKS), Task.due < now)
    timers = _scoped(select(ClientCase.case_id, Case.business_key, Timer.due_at, Timer.element_id), scope).join(
        Timer, Timer.case_id == ClientCase.case_id).where(
        Timer.element_id.in_(FOLLOW_UP_TIMERS), Timer.due_at < now - TIMER_GRACE)
    return [_item(*row) for query in (tasks, timers) for row in session.execute(query).all()]


def _referral_unanswered(session: Session, now: datetime, scope: Scope, settings: AlarmSettings
                         ) -> list[AlarmItem]:
    """Sent to a partner, still `requested`, and the service should have started before today."""
    today = finnish_day(now)
    query = _scoped(select(ClientCase.case_id, Case.business_key, ServiceReferral.referred_at, PlanItem.due), scope
                    ).join(ServiceReferral, ServiceReferral.case_id == ClientCase.case_id).join(
        PlanItem, PlanItem.id == ServiceReferral.plan_item_id).where(
        ServiceReferral.status == ServiceStatus.REQUESTED, ServiceReferral.referred_at.is_not(None),
        PlanItem.due < today)
    return [_item(case_id, key, at, due.isoformat()) for case_id, key, at, due in session.execute(query).all()]


def _incidents(session: Session, now: datetime, scope: Scope, settings: AlarmSettings) -> list[AlarmItem]:
    """Open incidents of active cases (every process's when the scope is everything)."""
    query = (select(Incident.case_id, Case.business_key, Incident.created_at, Incident.element_id)
             .join(Case, Case.id == Incident.case_id).where(Incident.resolved_at.is_(None)))
    if scope.needs_client_case:
        query = query.join(ClientCase, ClientCase.case_id == Incident.case_id).where(*scope.conditions())
    return [_item(*row) for row in session.execute(query).all()]


_QUERIES = {
    AlarmKind.NO_CASE_MANAGER: _no_case_manager,
    AlarmKind.DEACTIVATED_CASE_MANAGER: _deactivated,
    AlarmKind.CLIENT_NOT_INFORMED: _not_informed,
    AlarmKind.IDLE: _idle,
    AlarmKind.FOLLOW_UP_OVERDUE: _follow_up_overdue,
    AlarmKind.REFERRAL_UNANSWERED: _referral_unanswered,
    AlarmKind.INCIDENT: _incidents,
}


def alarm(session: Session, kind: AlarmKind, now: datetime, scope: Scope = EVERYTHING,
          settings: AlarmSettings = AlarmSettings()) -> Alarm:
    """One alarm with its items, the oldest first."""
    items = _QUERIES[kind](session, now, scope, settings)
    return Alarm(kind, SEVERITY[kind], sorted(items, key=lambda i: (i.since, i.business_key or "", i.case_id)))


def manager_alarms(session: Session, now: datetime, scope: Scope = EVERYTHING,
                   settings: AlarmSettings = AlarmSettings()) -> list[Alarm]:
    """Every alarm, in the order of AlarmKind (loudest first), each with its items (zero ones too)."""
    return [alarm(session, kind, now, scope, settings) for kind in AlarmKind]
