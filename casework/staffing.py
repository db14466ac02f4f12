"""Staffing alarms for the managers' dashboard: cases whose client may not know who their case manager is.

The loudest alarms are the two ways the case manager invariant breaks: a case with no case manager,
and a case whose current case manager has been deactivated.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.case_manager import Assignment, AssignmentReason
from casework.client_case import CaseStatus, ClientCase
from casework.users import StaffUser


class Severity(enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"


class AlarmKind(enum.Enum):
    DEACTIVATED_CASE_MANAGER = "deactivated_case_manager"
    NO_CASE_MANAGER = "no_case_manager"
    CHANGE_PENDING = "change_pending"
    CLIENT_NOT_INFORMED = "client_not_informed"
    HANDOVER_UNCONFIRMED = "handover_unconfirmed"


_ORDER = list(AlarmKind)
SEVERITY = {
    AlarmKind.DEACTIVATED_CASE_MANAGER: Severity.CRITICAL,
    AlarmKind.NO_CASE_MANAGER: Severity.CRITICAL,
    AlarmKind.CHANGE_PENDING: Severity.HIGH,
    AlarmKind.CLIENT_NOT_INFORMED: Severity.WARNING,
    AlarmKind.HANDOVER_UNCONFIRMED: Severity.WARNING,
}


@dataclass(frozen=True)
class StaffingAlarm:
    kind: AlarmKind
    severity: Severity
    case_id: str
    client_id: str
    since: datetime
    user_id: str | None = None  # the case manager concerned, if any


def staffing_alarms(session: Session, now: datetime, inform_within: timedelta = timedelta(days=3),
                    handover_within: timedelta = timedelta(days=14)) -> list[StaffingAlarm]:
    """Every staffing alarm on open cases, loudest first, then oldest first."""
    alarms: list[StaffingAlarm] = []
    current = (select(Assignment, ClientCase, StaffUser)
               .join(ClientCase, ClientCase.case_id == Assignment.case_id)
               .join(StaffUser, StaffUser.id == Assignment.user_id)
               .where(Assignment.to_at.is_(None), ClientCase.status == CaseStatus.OPEN))
    for assignment, record, user in session.execute(current):
        def alarm(kind: AlarmKind, since: datetime, a: Assignment = assignment, r: ClientCase = record) -> None:
            alarms.append(StaffingAlarm(kind, SEVERITY[kind], r.case_id, r.client_id, since, a.user_id))

        if not user.active:
            alarm(AlarmKind.DEACTIVATED_CASE_MANAGER, user.deactivated_at or assignment.from_at)
        elif record.change_requested_at is not None:
            alarm(AlarmKind.CHANGE_PENDING, record.change_requested_at)
        if assignment.client_informed_at is None and now - assignment.from_at > inform_within:
            alarm(AlarmKind.CLIENT_NOT_INFORMED, assignment.from_at)
        handover_open = (assignment.handover_confirmed_by_old_at is None
                         or assignment.handover_confirmed_by_new_at is None)
        if (assignment.reason is not AssignmentReason.INITIAL and handover_open
                and now - assignment.from_at > handover_within):
            alarm(AlarmKind.HANDOVER_UNCONFIRMED, assignment.from_at)
    alarms.extend(_without_case_manager(session))
    return sorted(alarms, key=lambda a: (_ORDER.index(a.kind), a.since))


def _without_case_manager(session: Session) -> list[StaffingAlarm]:
    last_end = (select(Assignment.case_id, func.max(Assignment.to_at).label("ended"))
                .group_by(Assignment.case_id).subquery())
    has_current = select(Assignment.id).where(Assignment.case_id == ClientCase.case_id, Assignment.to_at.is_(None))
    query = (select(ClientCase, last_end.c.ended)
             .outerjoin(last_end, last_end.c.case_id == ClientCase.case_id)
             .where(ClientCase.status == CaseStatus.OPEN, ClientCase.needs_case_manager.is_(True),
                    ~has_current.exists()))
    kind = AlarmKind.NO_CASE_MANAGER
    return [StaffingAlarm(kind, SEVERITY[kind], record.case_id, record.client_id,
                          ended or record.decided_at or record.opened_at)
            for record, ended in session.execute(query)]

