"""Staffing alarms: cases whose client may not know who their case manager is, on the dashboard and as tasks.

The loudest alarms are the two ways the case manager invariant breaks: a case with no case manager,
and a case whose current case manager has been deactivated. A periodic check (`raise_alarm_tasks`, run
by the scheduler: polku/embedded.py) turns each alarm of TASK_KINDS into one task for the team leads by
starting a bpmn/staffing-alarm.bpmn case; while that alarm stands it gets no second task, and when it
clears by itself (someone was named, the client was told) its task is withdrawn.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.case_manager import Assignment, AssignmentReason
from casework.client_case import CaseStatus, ClientCase
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.users import StaffUser
from engine.errors import EngineError
from engine.models import Case
from engine.models import CaseStatus as EngineCaseStatus

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.staffing")

ALARM_MESSAGE = "staffingAlarm"  # starts bpmn/staffing-alarm.bpmn
CLEARED_MESSAGE = "staffingAlarmCleared"  # withdraws its task when the alarm cleared by itself
INFORM_WITHIN = timedelta(days=3)  # the default of POLKU_INFORM_CLIENT_DAYS


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


# The alarms that become a task for the team leads. A pending change and an unconfirmed handover already
# have their tasks in the change flow; they stay on the dashboard only.
TASK_KINDS = frozenset({AlarmKind.NO_CASE_MANAGER, AlarmKind.DEACTIVATED_CASE_MANAGER,
                        AlarmKind.CLIENT_NOT_INFORMED})


@dataclass(frozen=True)
class StaffingAlarm:
    kind: AlarmKind
    severity: Severity
    case_id: str
    client_id: str
    since: datetime
    user_id: str | None = None  # the case manager concerned, if any


def staffing_alarms(session: Session, now: datetime, inform_within: timedelta = INFORM_WITHIN,
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



class RaisedAlarm(CaseworkBase):
    """An alarm turned into a team lead's task: at most one open row per alarm kind and case."""

    __tablename__ = "staffing_alarm"
    __table_args__ = (
        Index("uq_staffing_alarm_open", "kind", "case_id", unique=True,
              sqlite_where=text("cleared_at IS NULL"), postgresql_where=text("cleared_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[AlarmKind] = mapped_column(enum_type(AlarmKind))
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(200))  # the case manager concerned, if any
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    alarm_case_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the staffing_alarm case
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class CheckResult:
    raised: list[str]  # alarm case ids started in this run
    cleared: int  # alarms that no longer stand
    standing: int  # alarms of TASK_KINDS that stand now


# A row left without its alarm case (the process stopped between the two steps) is started again after this.
_UNLINKED_GRACE = timedelta(minutes=5)


def raise_alarm_tasks(engine: Engine, now: datetime, inform_within: timedelta = INFORM_WITHIN,
                      repeat_after: timedelta = timedelta(days=7)) -> CheckResult:
    """Give every standing alarm of TASK_KINDS one team lead task; withdraw the tasks of cleared alarms.

    Safe in several schedulers at once: the partial unique index lets one of them record the alarm, and
    only that one starts its case. An alarm whose task was done but that still stands `repeat_after`
    later gets a new task: done is not the same as fixed.
    """
    with engine.db.transaction() as session:
        alarms = {(a.kind, a.case_id): a for a in staffing_alarms(session, now, inform_within)
                  if a.kind in TASK_KINDS}
        rows = list(session.scalars(select(RaisedAlarm).where(RaisedAlarm.cleared_at.is_(None))))
        to_withdraw: list[str] = []
        for row in rows:
            if (row.kind, row.case_id) not in alarms:
                row.cleared_at = now
                if row.alarm_case_id:
                    to_withdraw.append(row.alarm_case_id)
        open_rows = {(r.kind, r.case_id): r for r in rows if r.cleared_at is None}
        ended = _ended_alarm_cases(session, [r.alarm_case_id for r in open_rows.values() if r.alarm_case_id])
    for alarm_case in to_withdraw:
        _withdraw(engine, alarm_case)
    raised: list[str] = []
    for key, alarm in alarms.items():
        standing = open_rows.get(key)
        if standing is None:
            row_id = _record(engine, alarm, now)
        elif standing.alarm_case_id is None and now - standing.raised_at >= _UNLINKED_GRACE:
            row_id = _reclaim(engine, standing.id, standing.raised_at, now)
        elif standing.alarm_case_id in ended and now - ended[standing.alarm_case_id] >= repeat_after:
            row_id = _reclaim(engine, standing.id, standing.raised_at, now, standing.alarm_case_id)
        else:
            row_id = None
        if row_id is not None:
            started = _start(engine, alarm, row_id)
            if started is not None:
                raised.append(started)
    return CheckResult(raised, len(to_withdraw), len(alarms))


def _ended_alarm_cases(session: Session, case_ids: list[str]) -> dict[str, datetime]:
    """The alarm cases among these that have ended (their task done), with when they last changed."""
    if not case_ids:
        return {}
    query = select(Case.id, Case.updated_at).where(Case.id.in_(case_ids),
                                                   Case.status != EngineCaseStatus.ACTIVE)
    return {case_id: _aware(at) for case_id, at in session.execute(query).all()}


def _aware(value: datetime) -> datetime:
    from engine.clock import aware

    result = aware(value)
    assert result is not None
    return result


def _record(engine: Engine, alarm: StaffingAlarm, now: datetime) -> int | None:
    """Record the alarm as raised; None when another scheduler recorded it first."""
    try:
        with engine.db.transaction() as session:
            row = RaisedAlarm(kind=alarm.kind, case_id=alarm.case_id, user_id=alarm.user_id, since=alarm.since,
                              raised_at=now)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def _reclaim(engine: Engine, row_id: int, seen_raised_at: datetime, now: datetime,
             ended_case: str | None = None) -> int | None:
    """Take a raised alarm over to start its case again; None when another scheduler took it first."""
    with engine.db.transaction() as session:
        query = (update(RaisedAlarm).where(RaisedAlarm.id == row_id, RaisedAlarm.raised_at == seen_raised_at,
                                           RaisedAlarm.cleared_at.is_(None))
                 .values(raised_at=now, alarm_case_id=None))
        if ended_case is not None:
            query = query.where(RaisedAlarm.alarm_case_id == ended_case)
        taken = session.execute(query.returning(RaisedAlarm.id)).first()
    return row_id if taken is not None else None


def _start(engine: Engine, alarm: StaffingAlarm, row_id: int) -> str | None:
    """Start the alarm's case (its team lead task) and link it to the row."""
    with engine.db.read() as session:
        concerned = session.get(Case, alarm.case_id)
        number = (concerned.business_key if concerned is not None else None) or alarm.case_id
    variables = {"alarmKind": alarm.kind.value, "alarmSeverity": alarm.severity.value, "caseNumber": number,
                 "concernedCaseId": alarm.case_id, "alarmSince": alarm.since.date().isoformat(),
                 "caseManager": alarm.user_id}
    try:
        [case_id] = engine.correlate(ALARM_MESSAGE, business_key=f"ALARM-{row_id}", variables=variables)
    except EngineError as err:
        # e.g. bpmn/staffing-alarm.bpmn is not deployed: the row stays unlinked and is tried again later
        log.warning("staffing alarm %s for case %s: no task could be started: %s", alarm.kind.value, number, err)
        return None
    with engine.db.transaction() as session:
        session.execute(update(RaisedAlarm).where(RaisedAlarm.id == row_id).values(alarm_case_id=case_id))
    return case_id


def _withdraw(engine: Engine, alarm_case: str) -> None:
    """The alarm cleared by itself: its open task goes (the case ends at its 'cleared' event)."""
    if not engine.message_waiters(CLEARED_MESSAGE, case_id=alarm_case):
        return
    try:
        engine.correlate(CLEARED_MESSAGE, case_id=alarm_case)
    except EngineError as err:
        log.info("staffing alarm case %s was not withdrawn: %s", alarm_case, err)


def open_alarm_tasks(session: Session) -> list[RaisedAlarm]:
    """The raised alarms that still stand, oldest first (each has, or will get, one team lead task)."""
    return list(session.scalars(select(RaisedAlarm).where(RaisedAlarm.cleared_at.is_(None))
                                .order_by(RaisedAlarm.raised_at, RaisedAlarm.id)))
