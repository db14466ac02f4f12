"""External tasks: fetch-and-lock, complete, fail (retries, back-off, incident), BPMN error, locks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from engine.errors import Conflict, EngineError, NotFound, ProcessError
from engine.models import Case, CaseStatus, Definition, HistoryEvent, Incident, Job, aware
from engine.transition import run_steps

if TYPE_CHECKING:
    from engine.runtime import Engine


@dataclass(frozen=True)
class TopicRequest:
    """What a worker asks for: a topic, how long to hold each job, optional filters."""

    name: str
    lock_duration_ms: int = 60_000
    variables: list[str] | None = None
    process_definition_key: str | None = None
    business_key: str | None = None


@dataclass
class LockedJob:
    id: str
    topic: str
    case_id: str
    business_key: str | None
    definition_key: str
    element_id: str
    worker_id: str
    lock_expires_at: datetime
    retries: int | None
    priority: int
    variables: dict[str, Any] = field(default_factory=dict)
    error_message: str | None = None


@dataclass(frozen=True)
class FailureOutcome:
    retries_left: int
    next_attempt_at: datetime | None
    incident: bool


def fetch_and_lock(engine: Engine, worker_id: str, topics: list[TopicRequest], max_jobs: int,
                   use_priority: bool = True) -> list[LockedJob]:
    """Lock up to `max_jobs` available jobs of the topics (SKIP LOCKED on PostgreSQL)."""
    now = engine.clock()
    locked: list[LockedJob] = []
    with engine.db.transaction() as session:
        for topic in topics:
            if len(locked) >= max_jobs:
                break
            query = (
                select(Job.id).join(Case, Case.id == Job.case_id).join(Definition, Definition.id == Case.definition_id)
                .where(Job.topic == topic.name, Case.status == CaseStatus.ACTIVE,
                       or_(Job.lock_expires_at.is_(None), Job.lock_expires_at < now),
                       or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= now),
                       or_(Job.retries.is_(None), Job.retries > 0))
                .limit(max_jobs - len(locked))
            )
            if topic.process_definition_key:
                query = query.where(Definition.key == topic.process_definition_key)
            if topic.business_key:
                query = query.where(Case.business_key == topic.business_key)
            query = query.order_by(Job.priority.desc(), Job.created_at) if use_priority else query.order_by(
                Job.created_at)
            expires = now + timedelta(milliseconds=topic.lock_duration_ms)
            if engine.db.is_postgres:
                query = query.with_for_update(of=Job, skip_locked=True)
                locked += _lock_returning(session, query, topic, worker_id, expires, use_priority)
                continue
            ids = list(session.execute(query).scalars())
            if not ids:
                continue
            session.execute(update(Job).where(Job.id.in_(ids)).values(lock_owner=worker_id, lock_expires_at=expires))
            rows = session.execute(
                select(Job, Case.business_key, Definition.key).join(Case, Case.id == Job.case_id)
                .join(Definition, Definition.id == Case.definition_id).where(Job.id.in_(ids))).all()
            locked += [_locked(job, business_key, key, topic, worker_id, expires) for job, business_key, key in rows]
    return locked


def _lock_returning(session: Session, query: Any, topic: TopicRequest, worker_id: str, expires: datetime,
                    use_priority: bool) -> list[LockedJob]:
    """PostgreSQL: choose (SKIP LOCKED), lock and read the jobs in one statement instead of three.

    The chosen ids are a MATERIALIZED CTE, so the locking subquery runs exactly once; RETURNING
    has no order, so the jobs are put back in the order they were chosen by.
    """
    chosen = query.cte("chosen").prefix_with("MATERIALIZED")
    statement = (update(Job).where(Job.id.in_(select(chosen.c.id)), Case.id == Job.case_id,
                                   Definition.id == Case.definition_id)
                 .values(lock_owner=worker_id, lock_expires_at=expires)
                 .returning(Job, Case.business_key, Definition.key))
    rows = session.execute(statement, execution_options={"synchronize_session": False}).all()
    rows.sort(key=lambda r: (-r[0].priority, r[0].created_at) if use_priority else r[0].created_at)
    return [_locked(job, business_key, key, topic, worker_id, expires) for job, business_key, key in rows]


def _locked(job: Job, business_key: str | None, key: str, topic: TopicRequest, worker_id: str,
            expires: datetime) -> LockedJob:
    variables = dict(job.variables or {})
    if topic.variables is not None:
        variables = {k: v for k, v in variables.items() if k in topic.variables}
    return LockedJob(job.id, job.topic, job.case_id, business_key, key, job.element_id, worker_id,
                     expires, job.retries, job.priority, variables, job.error_message)


_JOB_TABLE = Job.__table__
_JOB_HOLDER = select(_JOB_TABLE.c.case_id, _JOB_TABLE.c.lock_owner).where(_JOB_TABLE.c.id == bindparam("job_id"))
_JOB_OWNER = select(_JOB_TABLE.c.lock_owner).where(_JOB_TABLE.c.id == bindparam("job_id"))


def _locked_job(engine: Engine, job_id: str, worker_id: str | None) -> Job:
    """The job, checked to be held by this worker; a late or foreign completion is a Conflict."""
    with engine.db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise _gone(session, job_id)
    if worker_id is not None:
        _check_holder(job_id, job.lock_owner, worker_id)
    return job


def _gone(session: Session, job_id: str) -> EngineError:
    """Why a job row is missing: it ended (a late completion: Conflict) or never existed (NotFound)."""
    done = session.execute(select(HistoryEvent.state).where(HistoryEvent.task_id == job_id)).first()
    if done is not None:
        return Conflict(f"job {job_id} has already been {done[0]}")
    return NotFound(f"job {job_id} does not exist")


def _check_holder(job_id: str, owner: str | None, worker_id: str) -> None:
    if owner != worker_id:
        raise Conflict(f"job {job_id} is locked by {owner or 'nobody'}, not by {worker_id}")


def _job_task(ctx: Any, job_id: str) -> Any:
    from engine.runtime import find_task

    if ctx.case.status != CaseStatus.ACTIVE:
        raise Conflict(f"case {ctx.case.id} is {ctx.case.status.value}")
    task = find_task(ctx, job_id)
    if task is None or task.state != TaskState.STARTED:
        raise Conflict(f"job {job_id} is no longer waiting")
    return task


def _held_job_case(session: Session, job_id: str, worker_id: str) -> str:
    """The case of a job this worker holds, read inside the case transaction (checks as _locked_job)."""
    row = session.execute(_JOB_HOLDER, {"job_id": job_id}).first()
    if row is None:
        raise _gone(session, job_id)
    case_id, owner = row
    _check_holder(job_id, owner, worker_id)
    return str(case_id)


def complete(engine: Engine, job_id: str, worker_id: str, variables: Mapping[str, Any] | None) -> None:
    """Complete a held job: one transaction finds its case, locks it, re-checks the lock and advances the case."""
    with engine.tx.open_found(lambda session: _held_job_case(session, job_id, worker_id), actor=worker_id) as ctx:
        # the lock may have changed hands while this waited for the case lock
        still = ctx.session.execute(_JOB_OWNER, {"job_id": job_id}).scalar_one_or_none()
        if still != worker_id:
            raise Conflict(f"job {job_id} is no longer locked by {worker_id}")
        task = _job_task(ctx, job_id)
        task.set_data(**dict(variables or {}))
        task.complete()
        ctx.actor_task = task.id
        run_steps(ctx.workflow)


def fail(engine: Engine, job_id: str, worker_id: str, message: str, details: str | None,
         retries: int | None, retry_timeout_ms: int | None) -> FailureOutcome:
    """Count retries down with back-off; at zero open an incident. The case state is untouched."""
    _locked_job(engine, job_id, worker_id)
    now = engine.clock()
    timeout = timedelta(milliseconds=retry_timeout_ms) if retry_timeout_ms is not None else None
    with engine.db.transaction() as session:
        job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one()
        decision = engine.retry.decide(now, job.retries, retries, timeout)
        job.retries = decision.retries_left
        job.next_attempt_at = decision.at
        job.error_message = message
        job.error_details = details
        job.lock_owner = None
        job.lock_expires_at = None
        if decision.retries_left == 0:
            session.add(Incident(case_id=job.case_id, job_id=job.id, element_id=job.element_id, kind="failedJob",
                                 message=message, created_at=now))
    return FailureOutcome(decision.retries_left, decision.at, decision.retries_left == 0)


def bpmn_error(engine: Engine, job_id: str, worker_id: str, code: str, message: str | None,
               variables: Mapping[str, Any] | None) -> None:
    """Throw a BPMN error from the job's element; a boundary event must catch it."""
    job = _locked_job(engine, job_id, worker_id)
    with engine.tx.open(job.case_id, actor=worker_id) as ctx:
        task = _job_task(ctx, job_id)
        task.set_data(**dict(variables or {}))
        # the payload becomes the catching boundary event's data, so the variables ride along
        payload = {**dict(variables or {}), "errorCode": code, "errorMessage": message}
        event = BpmnEvent(ErrorEventDefinition(code, code=code), payload=payload, target=task.workflow)
        caught = ctx.workflow.event_manager.catch(event)
        if not caught:
            raise ProcessError(f"no boundary event catches BPMN error '{code}'", task.task_spec.bpmn_id)
        run_steps(ctx.workflow)


def extend_lock(engine: Engine, job_id: str, worker_id: str, duration_ms: int) -> None:
    now = engine.clock()
    with engine.db.transaction() as session:
        job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        expires = aware(job.lock_expires_at)
        if job.lock_owner != worker_id or expires is None or expires < now:
            raise Conflict(f"job {job_id} is not locked by {worker_id}")
        job.lock_expires_at = now + timedelta(milliseconds=duration_ms)


def unlock(engine: Engine, job_id: str, worker_id: str | None = None) -> None:
    """Release a job's lock; with `worker_id`, only if that worker still holds it (else Conflict)."""
    with engine.db.transaction() as session:
        job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        if worker_id is not None and job.lock_owner != worker_id:
            raise Conflict(f"job {job_id} is locked by {job.lock_owner or 'nobody'}, not by {worker_id}")
        job.lock_owner = None
        job.lock_expires_at = None


def release_expired_locks(engine: Engine, now: datetime) -> int:
    """Clear locks that ran out, so another worker can take the job."""
    with engine.db.transaction() as session:
        result = session.execute(update(Job).where(and_(Job.lock_expires_at.is_not(None), Job.lock_expires_at < now))
                                 .values(lock_owner=None, lock_expires_at=None))
        return int(result.rowcount or 0)
