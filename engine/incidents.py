"""Incidents: failures an operator must look at, and the repairs that close them.

A job opens an incident when its retries run out (engine/jobs.py) and a timer when firing it fails
(engine/timers.py). Workers never fetch a job at 0 retries and the scheduler skips a timer with an
open incident, so nothing moves there until someone repairs it. Each repair is one transaction and
records who (`resolved_by`), why (`note`) and how (`resolution`):

- retried: a failed job gets its retries back (optionally not before a given time), optionally with
  variables set on its task first; its last error stays on the job row for reference.
- rearmed: a failed timer's incident closes, so the scheduler fires it again (optionally at a given
  time), optionally with variables set on the timer's task first.
- resolved: closed without a retry (the work was done by hand, or the case moved on or ended). A job
  stays at 0 retries and is never fetched: the case waits at that element until something else moves
  it (a message, a boundary event, cancelling the case) or its retries are set again (set_job_retries,
  PUT /engine-rest/external-task/{id}/retries). A timer that still waits cannot be resolved this way:
  with no open incident the scheduler fires it, so re-arm it or cancel the case.
- obsolete: closed by the engine in the case's own transaction when the case no longer waits at the
  failed job or timer (a boundary event or message moved it on, it was cancelled or it ended), as
  Camunda removes such incidents; nobody has to resolve them by hand.

Retrying an incident and re-arming a timer go through the case transaction (they may change the case's
variables and its timer schedule); resolving, and setting a job's retries, change only the incident and
job rows (under the job row's lock).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from engine.camunda import scope
from engine.camunda.script_engine import json_safe
from engine.camunda.specs.event_definitions import SCHEDULE_KEY
from engine.camunda.timer_expression import TimerSchedule
from engine.clock import aware
from engine.errors import Conflict, NotFound, ProcessError
from engine.models import FAILED_EXTERNAL_TASK, FAILED_TIMER, OBSOLETE, Case, Definition, Incident, Job, Timer
from engine.transition import CaseContext

if TYPE_CHECKING:
    from engine.runtime import Engine



class Resolution(enum.Enum):
    RETRIED = "retried"
    REARMED = "rearmed"
    RESOLVED = "resolved"
    OBSOLETE = OBSOLETE  # closed by the engine: the case no longer waits at the failed job or timer


@dataclass(frozen=True)
class IncidentRecord:
    """An incident with its case, as lists and the REST API show it."""

    id: int
    kind: str
    case_id: str
    business_key: str | None
    definition_id: int
    definition_key: str
    definition_version: int
    element_id: str | None
    job_id: str | None  # the job or timer that failed
    message: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    note: str | None

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "caseId": self.case_id, "businessKey": self.business_key,
            "definitionKey": self.definition_key, "definitionVersion": self.definition_version,
            "elementId": self.element_id, "jobId": self.job_id, "message": self.message,
            "createdAt": self.created_at.isoformat(), "resolution": self.resolution,
            "resolvedAt": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolvedBy": self.resolved_by, "note": self.note,
        }


# -- reading ------------------------------------------------------------------------------------------
def _conditions(open_only: bool, incident_id: int | None, case_id: str | None, element_id: str | None,
                kind: str | None, job_id: str | None, definition_id: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Incident.resolved_at.is_(None)] if open_only else []
    for column, value in ((Incident.id, incident_id), (Incident.case_id, case_id), (Incident.element_id, element_id),
                          (Incident.kind, kind), (Incident.job_id, job_id), (Case.definition_id, definition_id)):
        if value is not None:
            conditions.append(column == value)
    return conditions


def list_incidents(engine: Engine, open_only: bool = True, incident_id: int | None = None,
                   case_id: str | None = None, element_id: str | None = None, kind: str | None = None,
                   job_id: str | None = None, definition_id: int | None = None, offset: int = 0,
                   limit: int = 1000) -> list[IncidentRecord]:
    """Incidents (only open ones unless `open_only` is False), oldest first."""
    query = (select(Incident, Case.business_key, Definition.id, Definition.key, Definition.version)
             .join(Case, Case.id == Incident.case_id).join(Definition, Definition.id == Case.definition_id)
             .where(*_conditions(open_only, incident_id, case_id, element_id, kind, job_id, definition_id))
             .order_by(Incident.created_at, Incident.id).offset(offset).limit(limit))
    with engine.db.transaction() as session:
        rows = session.execute(query).all()
    return [_record(*row) for row in rows]


def count_incidents(engine: Engine, open_only: bool = True, incident_id: int | None = None,
                    case_id: str | None = None, element_id: str | None = None, kind: str | None = None,
                    job_id: str | None = None, definition_id: int | None = None) -> int:
    query = (select(func.count(Incident.id)).join(Case, Case.id == Incident.case_id)
             .where(*_conditions(open_only, incident_id, case_id, element_id, kind, job_id, definition_id)))
    with engine.db.transaction() as session:
        return int(session.execute(query).scalar_one())


def get(engine: Engine, incident_id: int) -> IncidentRecord:
    found = list_incidents(engine, open_only=False, incident_id=incident_id)
    if not found:
        raise NotFound(f"incident {incident_id} does not exist")
    return found[0]


def _record(incident: Incident, business_key: str | None, definition_id: int, key: str, version: int
            ) -> IncidentRecord:
    created = aware(incident.created_at)
    assert created is not None
    return IncidentRecord(incident.id, incident.kind, incident.case_id, business_key, definition_id, key, version,
                          incident.element_id, incident.job_id, incident.message, created,
                          aware(incident.resolved_at), incident.resolved_by, incident.resolution, incident.note)


# -- repairs ------------------------------------------------------------------------------------------
def retry(engine: Engine, incident_id: int, actor: str | None, note: str | None, retries: int | None = None,
          at: datetime | None = None, variables: Mapping[str, Any] | None = None) -> IncidentRecord:
    """Retry a failed job (retries reset, due at `at` or now) or re-arm a failed timer (fires at `at` or now).

    `variables` are set on the job's or timer's task first, in the same transaction. `retries`
    defaults to the engine's retry strategy; a timer has none, so giving them for one is refused.
    """
    if retries is not None and retries < 1:
        raise ValueError("retries must be at least 1")
    values = _checked(variables)
    with engine.tx.open(_case_of(engine, incident_id), actor) as ctx:
        incident = _lock_open(ctx.session, incident_id)
        if incident.kind == FAILED_TIMER:
            if retries is not None:
                raise Conflict(f"incident {incident_id} is a failed timer: it has no retries to set; re-arm it "
                               "(optionally at a given time)")
            _rearm(ctx, incident, at, values)
            _close([incident], actor, note, Resolution.REARMED, ctx.now)
        else:
            _retry_job(ctx, incident, retries or engine.retry.retries, aware(at), values)
            _close([incident], actor, note, Resolution.RETRIED, ctx.now)
        ctx.session.flush()
    return get(engine, incident_id)


def resolve(engine: Engine, incident_id: int, actor: str | None, note: str | None) -> IncidentRecord:
    """Close an incident without a retry (see the module docstring for what that leaves behind)."""
    with engine.db.transaction() as session:
        incident = _lock_open(session, incident_id)
        waiting = incident.job_id is not None and session.get(Timer, incident.job_id) is not None
        if incident.kind == FAILED_TIMER and waiting:
            raise Conflict(f"timer {incident.job_id} of incident {incident_id} still waits: resolving would let the "
                           "scheduler fire it; re-arm it instead, or cancel the case")
        _close([incident], actor, note, Resolution.RESOLVED, engine.clock())
    return get(engine, incident_id)


def set_job_retries(engine: Engine, job_id: str, retries: int, actor: str | None, note: str | None = None) -> None:
    """Camunda's "set retries" of an external task: above 0 its open incident is retried, at 0 one opens."""
    if retries < 0:
        raise ValueError("retries must not be negative")
    now = engine.clock()
    with engine.db.transaction() as session:
        incidents = _open_of(session, job_id)  # incidents before the job, as retry() locks them: no deadlock
        job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        job.retries = retries
        if retries > 0:
            _close(incidents, actor, note, Resolution.RETRIED, now)
        elif not incidents:
            session.add(Incident(case_id=job.case_id, job_id=job.id, element_id=job.element_id,
                                 kind=FAILED_EXTERNAL_TASK,
                                 message=f"retries set to 0 by {actor or 'an administrator'}", created_at=now))


def set_timer_retries(engine: Engine, timer_id: str, retries: int, actor: str | None, due: datetime | None = None,
                      note: str | None = None) -> None:
    """Camunda's "set job retries" for a timer: above 0 its open incident is re-armed, at 0 one opens (the
    scheduler then leaves it alone); `due` moves its next firing."""
    if retries < 0:
        raise ValueError("retries must not be negative")
    with engine.db.transaction() as session:
        case_id = session.execute(select(Timer.case_id).where(Timer.id == timer_id)).scalar_one_or_none()
    if case_id is None:
        raise NotFound(f"timer {timer_id} does not exist")
    with engine.tx.open(case_id, actor) as ctx:
        timer = ctx.session.execute(select(Timer).where(Timer.id == timer_id)).scalar_one_or_none()
        if timer is None:
            raise NotFound(f"timer {timer_id} does not exist any more")
        incidents = _open_of(ctx.session, timer_id)
        if due is not None:
            _reschedule(_waiting_timer(ctx, timer_id), due)
        if retries > 0:
            _close(incidents, actor, note, Resolution.REARMED, ctx.now)
        elif not incidents:
            ctx.session.add(Incident(case_id=case_id, job_id=timer_id, element_id=timer.element_id, kind=FAILED_TIMER,
                                     message=f"retries set to 0 by {actor or 'an administrator'}", created_at=ctx.now))
        ctx.session.flush()


# -- inside the transaction -------------------------------------------------------------------------------
def _checked(variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """The variables, refused up front when they could not be saved with the case."""
    values = dict(variables or {})
    try:
        json.dumps(json_safe(values))
    except (TypeError, ValueError) as err:
        raise ProcessError(f"variables cannot be saved: {err}") from err
    return values


def _case_of(engine: Engine, incident_id: int) -> str:
    with engine.db.transaction() as session:
        case_id = session.execute(select(Incident.case_id).where(Incident.id == incident_id)).scalar_one_or_none()
    if case_id is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return str(case_id)


def _lock_open(session: Session, incident_id: int) -> Incident:
    """The incident, locked and read afresh (another repair may have closed it meanwhile); Conflict if closed."""
    incident = session.execute(select(Incident).where(Incident.id == incident_id).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    if incident.resolved_at is not None:
        when = aware(incident.resolved_at)
        raise Conflict(f"incident {incident_id} was already {incident.resolution or 'resolved'} by "
                       f"{incident.resolved_by or 'someone'} at {when.isoformat() if when else '?'}")
    return incident


def _open_of(session: Session, job_id: str) -> list[Incident]:
    return list(session.execute(select(Incident).where(Incident.job_id == job_id, Incident.resolved_at.is_(None))
                                .with_for_update()).scalars())


def _close(incidents: list[Incident], actor: str | None, note: str | None, resolution: Resolution,
           now: datetime) -> None:
    for incident in incidents:
        incident.resolved_at = now
        incident.resolved_by = actor
        incident.resolution = resolution.value
        incident.note = note


def _task(ctx: CaseContext, task_id: str) -> Any:
    from engine.runtime import find_task

    return find_task(ctx, task_id)


def _retry_job(ctx: CaseContext, incident: Incident, retries: int, at: datetime | None,
               variables: dict[str, Any]) -> None:
    job_id = incident.job_id or ""
    job = ctx.session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
    if job is None:
        raise Conflict(f"job {job_id} of incident {incident.id} no longer waits (the case moved on or ended); "
                       "resolve the incident instead")
    if variables:
        task = _task(ctx, job_id)
        if task is None or task.state != TaskState.STARTED:
            raise Conflict(f"job {job_id} of incident {incident.id} no longer waits")
        task.set_data(**variables)
        scope.publish(task, variables)  # process variables, as in Camunda: every open task sees them now
        job.variables = json_safe(dict(task.data))  # what the next worker fetches
    job.retries = retries
    job.next_attempt_at = at  # None: at once; error_message and error_details stay for reference


def _waiting_timer(ctx: CaseContext, timer_id: str) -> Any:
    task = _task(ctx, timer_id)
    if task is None or task.state != TaskState.WAITING:
        raise Conflict(f"timer {timer_id} no longer waits")
    return task


def _rearm(ctx: CaseContext, incident: Incident, at: datetime | None, variables: dict[str, Any]) -> None:
    timer_id = incident.job_id or ""
    if ctx.session.get(Timer, timer_id) is None:
        raise Conflict(f"timer {timer_id} of incident {incident.id} no longer waits (the case moved on or ended); "
                       "resolve the incident instead")
    task = _waiting_timer(ctx, timer_id)
    if variables:
        task.set_data(**variables)
        scope.publish(task, variables)
    if at is not None:
        _reschedule(task, at)


def _reschedule(task: Any, due: datetime) -> None:
    """Move the timer's next firing; the case save writes the timer row's due time from it."""
    stored = task.internal_data.get(SCHEDULE_KEY)
    if stored is None:
        raise Conflict(f"timer {task.id} has no schedule to move")
    moved = replace(TimerSchedule.from_json(stored), first_due=aware(due))  # a time without a zone is UTC
    task.internal_data[SCHEDULE_KEY] = moved.to_json()
