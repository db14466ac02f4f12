"""The engine's public face: deploy, start, complete, correlate, cancel — each one transaction.

Jobs, timers and messages have their own modules (jobs.py, timers.py, messages.py); this class
gathers them so callers (CLI, web app, workers) hold one object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from engine import jobs, messages, timers
from engine.camunda.script_engine import utcnow
from engine.db import Database
from engine.definitions import DefinitionStore
from engine.errors import Conflict, FormError, NotFound
from engine.forms import Form, validate_submission
from engine.models import Case, CaseStatus, Definition, Task, TaskStatus, Timer, aware
from engine.retry import RetryStrategy
from engine.transition import CaseContext, CaseTransaction, Clock, guard, run_steps


def find_task(ctx: CaseContext, task_id: str) -> Any:
    try:
        return ctx.workflow.get_task_from_id(UUID(task_id))
    except Exception:  # noqa: BLE001 - unknown or pruned ids are "not found"
        return None


class Engine:
    """A BPMN runtime over one database: every method is one transaction on one case."""

    def __init__(self, db: Database, clock: Clock = utcnow, retry: RetryStrategy | None = None) -> None:
        self.db = db
        self.clock = clock
        self.definitions = DefinitionStore(db)
        self.tx = CaseTransaction(db, self.definitions, clock)
        self.retry = retry or RetryStrategy()

    # -- definitions -------------------------------------------------------------------------
    def deploy(self, resources: dict[str, bytes], name: str = "deployment", source: str | None = None) -> Any:
        return self.definitions.deploy(resources, name, source)

    # -- cases -------------------------------------------------------------------------------
    @guard
    def start(self, key: str, business_key: str | None = None, variables: Mapping[str, Any] | None = None,
              actor: str | None = None) -> str:
        """Start a case of the latest version of `key`; returns the case id."""
        definition = self.definitions.latest(key)
        return self.start_definition(definition.id, business_key, variables, actor)

    @guard
    def start_definition(self, definition_id: int, business_key: str | None = None,
                         variables: Mapping[str, Any] | None = None, actor: str | None = None,
                         message: tuple[str, Mapping[str, Any]] | None = None) -> str:
        with self.tx.create(definition_id, business_key, actor) as ctx:
            start = ctx.workflow.get_tasks(state=TaskState.READY)[0]
            start.set_data(**dict(variables or {}))
            if business_key is not None:
                ctx.workflow.data["businessKey"] = business_key
            if message is not None:
                messages.keep_only_message_start(ctx.workflow, message[0])
            run_steps(ctx.workflow)
            if message is not None:
                messages.deliver(ctx, message[0], message[1])
            return ctx.case.id

    @guard
    def complete_task(self, task_id: str, data: Mapping[str, Any] | None = None, actor: str | None = None) -> None:
        """Complete a human task with form data (validated against its form); Conflict if already done."""
        case_id = self._open_task_case(task_id)
        with self.tx.open(case_id, actor) as ctx:
            if ctx.case.status != CaseStatus.ACTIVE:
                raise Conflict(f"case {case_id} is {ctx.case.status.value}")
            task = find_task(ctx, task_id)
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict(f"task {task_id} is no longer open")
            form_json = getattr(task.task_spec, "form", None)
            values = dict(data or {})
            if form_json:
                values = validate_submission(Form.from_json(form_json), values, current=task.data)
            task.set_data(**values)
            task.run()
            ctx.actor_task = task.id
            run_steps(ctx.workflow)

    def _open_task_case(self, task_id: str) -> str:
        with self.db.transaction() as session:
            row = session.get(Task, task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        if row.status != TaskStatus.OPEN:
            raise Conflict(f"task {task_id} was already {row.status.value}"
                           + (f" by {row.completed_by}" if row.completed_by else ""))
        return row.case_id

    def claim(self, task_id: str, user: str | None) -> None:
        """Set (or with None, clear) a task's assignee; Conflict if someone else holds it."""
        with self.db.transaction() as session:
            row = session.execute(select(Task).where(Task.id == task_id).with_for_update()).scalar_one_or_none()
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            if row.status != TaskStatus.OPEN:
                raise Conflict(f"task {task_id} is {row.status.value}")
            if user is not None and row.assignee not in (None, user):
                raise Conflict(f"task {task_id} is already assigned to {row.assignee}")
            row.assignee = user
            row.claimed_at = self.clock() if user else None

    def reassign(self, case_id: str, from_user: str, to_user: str) -> list[str]:
        """Hand the case's open tasks of `from_user` to `to_user` (a case manager change); returns their ids."""
        with self.db.transaction() as session:
            rows = list(session.execute(select(Task).where(Task.case_id == case_id, Task.status == TaskStatus.OPEN,
                                                           Task.assignee == from_user).with_for_update()).scalars())
            for row in rows:
                row.assignee = to_user
                row.claimed_at = self.clock()
            return [row.id for row in rows]

    @guard
    def cancel(self, case_id: str, actor: str | None = None) -> None:
        with self.tx.open(case_id, actor) as ctx:
            if ctx.case.status in (CaseStatus.COMPLETED, CaseStatus.CANCELLED):
                raise Conflict(f"case {case_id} has already ended")
            ctx.workflow.cancel()
            ctx.case.status = CaseStatus.CANCELLED

    def suspend(self, case_id: str) -> None:
        self._set_status(case_id, CaseStatus.ACTIVE, CaseStatus.SUSPENDED)

    def resume(self, case_id: str) -> None:
        self._set_status(case_id, CaseStatus.SUSPENDED, CaseStatus.ACTIVE)

    def _set_status(self, case_id: str, expected: CaseStatus, new: CaseStatus) -> None:
        with self.db.transaction() as session:
            row = session.execute(select(Case).where(Case.id == case_id).with_for_update()).scalar_one_or_none()
            if row is None:
                raise NotFound(f"case {case_id} does not exist")
            if row.status != expected:
                raise Conflict(f"case {case_id} is {row.status.value}, not {expected.value}")
            session.execute(update(Case).where(Case.id == case_id)
                            .values(status=new, version=row.version + 1, updated_at=self.clock()))

    # -- reading -------------------------------------------------------------------------------
    def case(self, case_id: str) -> dict[str, Any]:
        with self.db.transaction() as session:
            row = session.execute(select(Case, Definition).join(Definition).where(Case.id == case_id)).one_or_none()
        if row is None:
            raise NotFound(f"case {case_id} does not exist")
        return _case_json(*row)

    def cases(self, status: CaseStatus | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        query = select(Case, Definition).join(Definition).order_by(Case.created_at).limit(limit)
        if status is not None:
            query = query.where(Case.status == status)
        with self.db.transaction() as session:
            return [_case_json(c, d) for c, d in session.execute(query).all()]

    def open_tasks(self, case_id: str | None = None) -> list[Task]:
        query = select(Task).where(Task.status == TaskStatus.OPEN).order_by(Task.created_at)
        if case_id is not None:
            query = query.where(Task.case_id == case_id)
        with self.db.transaction() as session:
            return list(session.execute(query).scalars())

    # -- jobs, timers, messages ----------------------------------------------------------------
    def fetch_and_lock(self, worker_id: str, topics: list[jobs.TopicRequest], max_jobs: int = 10,
                       use_priority: bool = True) -> list[jobs.LockedJob]:
        return jobs.fetch_and_lock(self, worker_id, topics, max_jobs, use_priority)

    @guard
    def complete_job(self, job_id: str, worker_id: str, variables: Mapping[str, Any] | None = None) -> None:
        jobs.complete(self, job_id, worker_id, variables)

    def fail_job(self, job_id: str, worker_id: str, message: str, details: str | None = None,
                 retries: int | None = None, retry_timeout_ms: int | None = None) -> jobs.FailureOutcome:
        return jobs.fail(self, job_id, worker_id, message, details, retries, retry_timeout_ms)

    @guard
    def bpmn_error(self, job_id: str, worker_id: str, code: str, message: str | None = None,
                   variables: Mapping[str, Any] | None = None) -> None:
        jobs.bpmn_error(self, job_id, worker_id, code, message, variables)

    def extend_lock(self, job_id: str, worker_id: str, duration_ms: int) -> None:
        jobs.extend_lock(self, job_id, worker_id, duration_ms)

    def unlock(self, job_id: str, worker_id: str | None = None) -> None:
        jobs.unlock(self, job_id, worker_id)

    def release_expired_locks(self, now: datetime | None = None) -> int:
        return jobs.release_expired_locks(self, now or self.clock())

    def fire_due_timers(self, now: datetime | None = None, limit: int = 100) -> int:
        return timers.fire_due(self, now or self.clock(), limit)

    @guard
    def fire_timer(self, timer_id: str, at: datetime | None = None) -> bool:
        return timers.fire(self, timer_id, at)

    def waiting_timers(self, case_id: str, element_id: str | None = None) -> list[tuple[str, datetime]]:
        """The case's waiting timers as (id, due time), soonest first; e.g. to fire one ahead of time."""
        query = select(Timer.id, Timer.due_at).where(Timer.case_id == case_id).order_by(Timer.due_at, Timer.id)
        if element_id is not None:
            query = query.where(Timer.element_id == element_id)
        with self.db.transaction() as session:
            return [(timer_id, aware(due)) for timer_id, due in session.execute(query).all()]

    @guard
    def correlate(self, message: str, case_id: str | None = None, business_key: str | None = None,
                  variables: Mapping[str, Any] | None = None, all_matches: bool = False) -> list[str]:
        return messages.correlate(self, message, case_id, business_key, variables, all_matches)

    # -- reads for the Camunda-compatible REST API ------------------------------------------------
    def external_jobs(self, job_ids: list[str] | None = None, topic: str | None = None,
                      worker_id: str | None = None, locked: bool | None = None, case_id: str | None = None,
                      business_key: str | None = None, element_id: str | None = None,
                      with_retries_left: bool | None = None, offset: int = 0, limit: int = 1000
                      ) -> list[dict[str, Any]]:
        """Jobs with their case and definition, oldest first; `locked` means a lock that has not run out."""
        from engine.models import Job

        now = self.clock()
        query = (select(Job, Case, Definition).join(Case, Case.id == Job.case_id)
                 .join(Definition, Definition.id == Case.definition_id)
                 .order_by(Job.created_at, Job.id).offset(offset).limit(limit))
        if job_ids is not None:
            query = query.where(Job.id.in_(job_ids))
        for column, value in ((Job.topic, topic), (Job.lock_owner, worker_id), (Job.case_id, case_id),
                              (Case.business_key, business_key), (Job.element_id, element_id)):
            if value is not None:
                query = query.where(column == value)
        if locked is True:
            query = query.where(Job.lock_expires_at.is_not(None), Job.lock_expires_at > now)
        elif locked is False:
            query = query.where((Job.lock_expires_at.is_(None)) | (Job.lock_expires_at <= now))
        if with_retries_left is True:
            query = query.where((Job.retries.is_(None)) | (Job.retries > 0))
        elif with_retries_left is False:
            query = query.where(Job.retries == 0)
        with self.db.transaction() as session:
            rows = session.execute(query).all()
        return [{
            "id": job.id, "topic": job.topic, "caseId": job.case_id, "businessKey": case.business_key,
            "definitionId": definition.id, "definitionKey": definition.key, "definitionVersion": definition.version,
            "elementId": job.element_id, "workerId": job.lock_owner, "lockExpiresAt": aware(job.lock_expires_at),
            "retries": job.retries, "priority": job.priority, "errorMessage": job.error_message,
            "errorDetails": job.error_details, "suspended": bool(job.suspended) or case.status == CaseStatus.SUSPENDED,
            "createdAt": aware(job.created_at), "variables": dict(job.variables or {}),
        } for job, case, definition in rows]

    def message_waiters(self, message: str, case_id: str | None = None, business_key: str | None = None
                        ) -> list[str]:
        """Ids of active cases subscribed to the message (so a caller can tell delivery from a start)."""
        return messages.waiting_cases(self, message, case_id, business_key)


def _case_json(case: Case, definition: Definition) -> dict[str, Any]:
    return {
        "id": case.id, "key": definition.key, "version": definition.version, "definitionId": definition.id,
        "businessKey": case.business_key, "status": case.status.value, "waiting": case.waiting or [],
        "variables": case.variables or {},
        "createdAt": _iso(case.created_at), "endedAt": _iso(case.ended_at),
    }


def _iso(value: datetime | None) -> str | None:
    stored = aware(value)
    return stored.isoformat() if stored is not None else None


__all__ = ["Engine", "FormError"]
