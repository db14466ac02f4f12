"""External tasks: fetch-and-lock, complete, fail (retries, back-off, incident), BPMN error, locks.

A lock has two holders' names: the worker's id (Camunda's `workerId`, chosen by the worker) and, when
the job was fetched through an authenticated API, the account that fetched it. With an account given,
only that account's worker may finish, extend or release the lock; a caller who may act on any job
(the in-process runner, an administrator) passes no account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import CursorResult, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from engine.claim import Claim, Order, claim
from engine.clock import aware
from engine.errors import Conflict, EngineError, NotFound, OutcomeNotStored, ProcessError
from engine.models import FAILED_EXTERNAL_TASK, Case, CaseStatus, Definition, HistoryEvent, Incident, Job, table_of
from engine.outcome_refusal import check_storable, is_unreachable, refusal
from engine.transition import run_steps

if TYPE_CHECKING:
    from engine.runtime import Engine
    from engine.transition import CaseContext


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
                   use_priority: bool = True, account: str | None = None) -> list[LockedJob]:
    """Lock up to `max_jobs` available jobs of the topics (SKIP LOCKED on PostgreSQL) for the worker of `account`."""
    now = engine.clock()
    locked: list[LockedJob] = []
    with engine.db.transaction() as session:
        for topic in topics:
            if len(locked) >= max_jobs:
                break
            expires = now + timedelta(milliseconds=topic.lock_duration_ms)
            rows = claim(session, _available(topic, now, use_priority), max_jobs - len(locked),
                         {"lock_owner": worker_id, "lock_account": account, "lock_expires_at": expires})
            locked += [_locked(job, business_key, key, topic, worker_id, expires) for job, business_key, key in rows]
    return locked


_BY_PRIORITY = (Order(Job.priority, descending=True), Order(Job.created_at))
_BY_AGE = (Order(Job.created_at),)
_JOB_CASE = ((Case, Case.id == Job.case_id), (Definition, Definition.id == Case.definition_id))


def _available(topic: TopicRequest, now: datetime, use_priority: bool) -> Claim:
    """The jobs of `topic` a worker may take now: unlocked or lock ran out, due, retries left, case active."""
    where = [Job.topic == topic.name, Case.status == CaseStatus.ACTIVE,
             or_(Job.lock_expires_at.is_(None), Job.lock_expires_at < now),
             or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= now),
             or_(Job.retries.is_(None), Job.retries > 0)]
    if topic.process_definition_key:
        where.append(Definition.key == topic.process_definition_key)
    if topic.business_key:
        where.append(Case.business_key == topic.business_key)
    return Claim(Job, where, _BY_PRIORITY if use_priority else _BY_AGE, _JOB_CASE,
                 (Case.business_key, Definition.key))


def _locked(job: Job, business_key: str | None, key: str, topic: TopicRequest, worker_id: str,
            expires: datetime) -> LockedJob:
    variables = dict(job.variables or {})
    if topic.variables is not None:
        variables = {k: v for k, v in variables.items() if k in topic.variables}
    return LockedJob(job.id, job.topic, job.case_id, business_key, key, job.element_id, worker_id,
                     expires, job.retries, job.priority, variables, job.error_message)


_JOB_TABLE = table_of(Job)
_JOB_HOLDER = select(_JOB_TABLE.c.case_id, _JOB_TABLE.c.lock_owner, _JOB_TABLE.c.lock_account).where(
    _JOB_TABLE.c.id == bindparam("job_id"))
_JOB_OWNER_LOCKED = select(_JOB_TABLE.c.lock_owner, _JOB_TABLE.c.lock_account).where(
    _JOB_TABLE.c.id == bindparam("job_id")).with_for_update()
_LOCK_JOB = select(Job).where(Job.id == bindparam("job_id")).with_for_update()


def _gone(session: Session, job_id: str) -> EngineError:
    """Why a job row is missing: it ended (a late completion: Conflict) or never existed (NotFound)."""
    done = session.execute(select(HistoryEvent.state).where(HistoryEvent.task_id == job_id)).first()
    if done is not None:
        return Conflict(f"job {job_id} has already been {done[0]}")
    return NotFound(f"job {job_id} does not exist")


def _check_holder(job_id: str, owner: str | None, owner_account: str | None, worker_id: str | None,
                  account: str | None) -> None:
    """Conflict unless the lock is `worker_id`'s (None: any worker's) of `account` (None: any account's).

    A job held under another account is refused without naming its worker: that is the other account's business.
    """
    if account is not None and owner_account != account:
        raise Conflict(f"job {job_id} is not locked by a worker of {account}")
    if worker_id is not None and owner != worker_id:
        raise Conflict(f"job {job_id} is locked by {owner or 'nobody'}, not by {worker_id}")


def _locked_row(session: Session, job_id: str, worker_id: str | None, account: str | None = None) -> Job:
    """The job row, locked for this transaction and checked to be held by `worker_id` of `account` (None: any).

    Checking in the transaction that then changes the row is what keeps a worker whose lock ran out,
    and passed to another, from clearing the new holder's lock or using up its retries.
    """
    job = session.execute(_LOCK_JOB, {"job_id": job_id}).scalar_one_or_none()
    if job is None:
        raise _gone(session, job_id)
    _check_holder(job_id, job.lock_owner, job.lock_account, worker_id, account)
    return job


def _job_task(ctx: Any, job_id: str) -> Any:
    from engine.runtime import find_task

    if ctx.case.status != CaseStatus.ACTIVE:
        raise Conflict(f"case {ctx.case.id} is {ctx.case.status.value}")
    task = find_task(ctx, job_id)
    if task is None or task.state != TaskState.STARTED:
        raise Conflict(f"job {job_id} is no longer waiting")
    return task


def _held_job_case(session: Session, job_id: str, worker_id: str, account: str | None) -> str:
    """The case of a job this worker holds, read inside the case transaction before the case is locked."""
    row = session.execute(_JOB_HOLDER, {"job_id": job_id}).first()
    if row is None:
        raise _gone(session, job_id)
    case_id, owner, owner_account = row
    _check_holder(job_id, owner, owner_account, worker_id, account)
    return str(case_id)


@contextmanager
def _held_job_case_transaction(engine: Engine, job_id: str, worker_id: str, account: str | None
                               ) -> Iterator[tuple[CaseContext, Any]]:
    """The case transaction of a job this worker still holds once the case is locked, with the job's task.

    The holder is checked again under the case lock (the lock may have changed hands while this waited
    for it), and the job row is locked too, so no fetch can take it over before this commits.
    """
    with engine.tx.open_found(lambda session: _held_job_case(session, job_id, worker_id, account),
                              actor=worker_id) as ctx:
        still = ctx.session.execute(_JOB_OWNER_LOCKED, {"job_id": job_id}).first()
        if still is None:
            raise _gone(ctx.session, job_id)
        _check_holder(job_id, still[0], still[1], worker_id, account)
        yield ctx, _job_task(ctx, job_id)


@contextmanager
def _counted_if_refused(engine: Engine, job_id: str, worker_id: str, account: str | None) -> Iterator[None]:
    """Store a job's outcome, or count a failed attempt of the job when the case or the database refuses it.

    Without this, an outcome that cannot be stored (a NaN for PostgreSQL's JSON, a duration the next
    timer cannot use, a gateway that fails on it) left the job locked until its lock ran out, and it was
    run again, for ever: no retry counted, no error recorded, no incident, its side effects repeated.
    A lost lock (Conflict), a job that is gone (NotFound) and a database that cannot be reached are
    not the outcome's fault: they pass through, and the job is not charged an attempt.
    """
    try:
        yield
    except (Conflict, NotFound):
        raise
    except Exception as err:  # noqa: BLE001 - whatever made the case transaction fail; it rolled back
        if is_unreachable(err):
            raise
        refused = refusal(err)
        outcome = fail(engine, job_id, worker_id, refused.message, refused.details, None, None, account)
        raise OutcomeNotStored(job_id, refused.message, outcome.retries_left, refused.by_database,
                               refused.element_id) from err


def complete(engine: Engine, job_id: str, worker_id: str, variables: Mapping[str, Any] | None,
             account: str | None = None) -> None:
    """Complete a held job: one transaction finds its case, locks it, re-checks the lock and advances the case.

    If the case or the database refuses the outcome, the attempt counts as failed (OutcomeNotStored).
    """
    with _counted_if_refused(engine, job_id, worker_id, account), \
            _held_job_case_transaction(engine, job_id, worker_id, account) as (ctx, task):
        check_storable(variables)
        task.set_data(**dict(variables or {}))
        task.complete()
        ctx.actor_task = task.id
        run_steps(ctx.workflow)


def fail(engine: Engine, job_id: str, worker_id: str, message: str, details: str | None,
         retries: int | None, retry_timeout_ms: int | None, account: str | None = None) -> FailureOutcome:
    """Count retries down with back-off; at zero open an incident. The case state is untouched."""
    now = engine.clock()
    timeout = timedelta(milliseconds=retry_timeout_ms) if retry_timeout_ms is not None else None
    with engine.db.transaction() as session:
        job = _locked_row(session, job_id, worker_id, account)
        decision = engine.retry.decide(now, job.retries, retries, timeout)
        job.retries = decision.retries_left
        job.next_attempt_at = decision.at
        job.error_message = message
        job.error_details = details
        job.lock_owner = None
        job.lock_account = None
        job.lock_expires_at = None
        if decision.retries_left == 0:
            session.add(Incident(case_id=job.case_id, job_id=job.id, element_id=job.element_id,
                                 kind=FAILED_EXTERNAL_TASK,
                                 message=message, created_at=now))
    return FailureOutcome(decision.retries_left, decision.at, decision.retries_left == 0)


def bpmn_error(engine: Engine, job_id: str, worker_id: str, code: str, message: str | None,
               variables: Mapping[str, Any] | None, account: str | None = None) -> None:
    """Throw a BPMN error from the job's element; a boundary event must catch it (else a failed attempt)."""
    with _counted_if_refused(engine, job_id, worker_id, account), \
            _held_job_case_transaction(engine, job_id, worker_id, account) as (ctx, task):
        check_storable(variables)
        task.set_data(**dict(variables or {}))
        # the payload becomes the catching boundary event's data, so the variables ride along
        payload = {**dict(variables or {}), "errorCode": code, "errorMessage": message}
        event = BpmnEvent(ErrorEventDefinition(code, code=code), payload=payload, target=task.workflow)
        caught = ctx.workflow.event_manager.catch(event)
        if not caught:
            raise ProcessError(f"no boundary event catches BPMN error '{code}'", task.task_spec.bpmn_id)
        run_steps(ctx.workflow)


def extend_lock(engine: Engine, job_id: str, worker_id: str, duration_ms: int, account: str | None = None) -> None:
    """Hold the job longer; only its holder may, and only before the lock ran out (else Conflict)."""
    now = engine.clock()
    with engine.db.transaction() as session:
        job = _locked_row(session, job_id, None, account)
        expires = aware(job.lock_expires_at)
        if job.lock_owner != worker_id or expires is None or expires < now:
            raise Conflict(f"job {job_id} is not locked by {worker_id}")
        job.lock_expires_at = now + timedelta(milliseconds=duration_ms)


def unlock(engine: Engine, job_id: str, worker_id: str | None = None, account: str | None = None) -> None:
    """Release a job's lock; with `worker_id` or `account`, only if they still hold it (else Conflict).

    A job nobody holds is left as it is, whoever asks.
    """
    with engine.db.transaction() as session:
        job = _locked_row(session, job_id, None)
        if job.lock_owner is None and worker_id is None:
            return
        _check_holder(job_id, job.lock_owner, job.lock_account, worker_id, account)
        job.lock_owner = None
        job.lock_account = None
        job.lock_expires_at = None


def release_expired_locks(engine: Engine, now: datetime) -> int:
    """Clear locks that ran out, so another worker can take the job."""
    with engine.db.transaction() as session:
        result = session.execute(update(Job).where(and_(Job.lock_expires_at.is_not(None), Job.lock_expires_at < now))
                                 .values(lock_owner=None, lock_account=None, lock_expires_at=None))
        return int(cast(CursorResult[Any], result).rowcount or 0)
